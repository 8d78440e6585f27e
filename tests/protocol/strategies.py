"""Hypothesis strategies for protocol values, records, bodies and messages."""

from __future__ import annotations

from hypothesis import strategies as st

from protocol import bodies as b
from protocol.admin_record import AdminRecord
from protocol.constants import (
    ADMIN_PERM_ALL,
    KEY_EXCHANGE_CIPHER_CLIENT,
    KEY_EXCHANGE_CIPHER_HDL,
    KEY_EXCHANGE_CIPHER_SERVER,
    KEY_EXCHANGE_DH,
    OC_ADD_VALUE,
    OC_CREATE_HANDLE,
    OC_DELETE_HANDLE,
    OC_DUMP_HANDLES,
    OC_GET_NEXT_TXN_ID,
    OC_GET_SITE_INFO,
    OC_HOME_NA,
    OC_LIST_HANDLES,
    OC_LIST_HOMED_NAS,
    OC_MODIFY_VALUE,
    OC_REMOVE_VALUE,
    OC_RESOLUTION,
    OC_RESPONSE_TO_CHALLENGE,
    OC_RETRIEVE_TXN_LOG,
    OC_SESSION_EXCHANGEKEY,
    OC_SESSION_SETUP,
    OC_SESSION_TERMINATE,
    OC_UNHOME_NA,
    OC_VERIFY_CHALLENGE,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_NOT_FOUND,
    RC_PREFIX_REFERRAL,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
)
from protocol.digests import RequestDigest
from protocol.message import Message
from protocol.public_key import DHKeyNumbers, DSAKeyNumbers, RSAKeyNumbers
from protocol.site_info import Attribute, Interface, ServerInfo, SiteInfo
from protocol.values import HandleValue, ValueReference

int32 = st.integers(-(2**31), 2**31 - 1)
int16 = st.integers(-(2**15), 2**15 - 1)
octet = st.integers(0, 255)
text = st.text(max_size=20)
small_bytes = st.binary(max_size=40)

refs = st.builds(ValueReference, text, int32)
handle_values = st.builds(
    HandleValue,
    index=int32,
    type=text,
    data=small_bytes,
    ttl_type=octet,
    ttl=int32,
    timestamp=int32,
    admin_read=st.booleans(),
    admin_write=st.booleans(),
    public_read=st.booleans(),
    public_write=st.booleans(),
    references=st.lists(refs, max_size=3).map(tuple),
)
value_tuples = st.lists(handle_values, max_size=4).map(tuple)

admin_records = st.builds(AdminRecord, text, int32, st.integers(0, ADMIN_PERM_ALL), st.booleans())
interfaces = st.builds(Interface, octet, octet, int32)
servers = st.builds(
    ServerInfo,
    int32,
    st.binary(min_size=16, max_size=16),
    small_bytes,
    st.lists(interfaces, max_size=3).map(tuple),
)
sites = st.builds(
    SiteInfo,
    serial_number=int16,
    servers=st.lists(servers, max_size=3).map(tuple),
    is_primary=st.booleans(),
    multi_primary=st.booleans(),
    hash_option=st.integers(-128, 127),
    hash_filter=small_bytes,
    attributes=st.lists(st.builds(Attribute, small_bytes, small_bytes), max_size=3).map(tuple),
    data_format_version=int16,
    major_version=octet,
    minor_version=octet,
)
big = st.integers(0, 2**600)
key_numbers = st.one_of(
    st.builds(DSAKeyNumbers, big, big, big, big),
    st.builds(RSAKeyNumbers, big, big),
    st.builds(DHKeyNumbers, big, big, big),
)

digests = st.one_of(
    st.builds(RequestDigest, st.just(1), st.binary(min_size=16, max_size=16)),
    st.builds(RequestDigest, st.just(2), st.binary(min_size=20, max_size=20)),
    st.builds(RequestDigest, st.just(3), st.binary(min_size=32, max_size=32)),
    st.builds(RequestDigest, st.just(0), small_bytes),
)

session_setups = st.one_of(
    st.builds(
        b.SessionSetupRequest,
        st.sampled_from([KEY_EXCHANGE_CIPHER_CLIENT, KEY_EXCHANGE_DH]),
        int32,
        text,
        int32,
        public_key=small_bytes,
    ),
    st.builds(
        b.SessionSetupRequest,
        st.just(KEY_EXCHANGE_CIPHER_HDL),
        int32,
        text,
        int32,
        exchange_key_handle=text,
        exchange_key_index=int32,
    ),
    st.builds(b.SessionSetupRequest, st.just(KEY_EXCHANGE_CIPHER_SERVER), int32, text, int32),
)

#: (op code, response code, body) triples that CNRI defines
REQUESTS = st.one_of(
    st.tuples(
        st.just(OC_RESOLUTION),
        st.builds(
            b.ResolutionRequest,
            text,
            st.lists(int32, max_size=4).map(tuple),
            st.lists(text, max_size=4).map(tuple),
        ),
    ),
    st.tuples(
        st.sampled_from(
            [
                OC_DELETE_HANDLE,
                OC_LIST_HANDLES,
                OC_LIST_HOMED_NAS,
                OC_GET_SITE_INFO,
                OC_HOME_NA,
                OC_UNHOME_NA,
                OC_SESSION_TERMINATE,
                OC_GET_NEXT_TXN_ID,
            ]
        ),
        st.builds(b.HandleRequest, text),
    ),
    st.tuples(
        st.sampled_from([OC_CREATE_HANDLE, OC_ADD_VALUE, OC_MODIFY_VALUE]),
        st.builds(b.ValuesRequest, text, value_tuples),
    ),
    st.tuples(
        st.just(OC_REMOVE_VALUE),
        st.builds(b.RemoveValueRequest, text, st.lists(int32, max_size=4).map(tuple)),
    ),
    st.tuples(
        st.just(OC_RESPONSE_TO_CHALLENGE),
        st.builds(b.ChallengeAnswerRequest, text, text, int32, small_bytes),
    ),
    st.tuples(
        st.just(OC_VERIFY_CHALLENGE),
        st.builds(b.VerifyAuthRequest, text, int32, small_bytes, small_bytes, small_bytes),
    ),
    st.tuples(st.just(OC_SESSION_SETUP), session_setups),
    st.tuples(st.just(OC_SESSION_EXCHANGEKEY), st.builds(b.SessionExchangeKeyRequest, small_bytes)),
    st.tuples(
        st.sampled_from([OC_RETRIEVE_TXN_LOG, OC_DUMP_HANDLES]), st.builds(b.RawBody, small_bytes)
    ),
).map(lambda t: (t[0], 0, t[1]))

RESPONSES = st.one_of(
    st.tuples(
        st.just(OC_RESOLUTION),
        st.just(RC_SUCCESS),
        st.builds(b.ResolutionResponse, text, value_tuples),
    ),
    st.tuples(
        st.sampled_from([OC_RESOLUTION, OC_CREATE_HANDLE]),
        st.sampled_from([RC_SERVICE_REFERRAL, RC_PREFIX_REFERRAL]),
        st.builds(b.ReferralResponse, text, st.one_of(st.none(), value_tuples)),
    ),
    st.tuples(
        st.sampled_from([OC_RESOLUTION, OC_DELETE_HANDLE]),
        st.just(RC_HANDLE_NOT_FOUND),
        st.builds(b.ErrorResponse, small_bytes),
    ),
    st.tuples(
        st.just(OC_GET_SITE_INFO), st.just(RC_SUCCESS), st.builds(b.GetSiteInfoResponse, sites)
    ),
    st.tuples(
        st.just(OC_CREATE_HANDLE),
        st.just(RC_SUCCESS),
        st.builds(b.CreateHandleResponse, st.one_of(st.none(), text)),
    ),
    st.tuples(
        st.sampled_from([OC_LIST_HANDLES, OC_LIST_HOMED_NAS]),
        st.just(RC_SUCCESS),
        st.builds(b.HandleListResponse, st.lists(text, max_size=4).map(tuple)),
    ),
    st.tuples(
        st.sampled_from([OC_CREATE_HANDLE, OC_ADD_VALUE]),
        st.just(RC_AUTHENTICATION_NEEDED),
        st.builds(b.ChallengeResponse, st.binary(min_size=16, max_size=16)),
    ),
    st.tuples(
        st.just(OC_VERIFY_CHALLENGE),
        st.just(RC_SUCCESS),
        st.builds(b.VerifyAuthResponse, st.booleans()),
    ),
    st.tuples(
        st.just(OC_SESSION_SETUP),
        st.just(RC_SUCCESS),
        st.builds(b.SessionSetupResponse, int16, small_bytes),
    ),
    st.tuples(
        st.just(OC_GET_NEXT_TXN_ID),
        st.just(RC_SUCCESS),
        st.builds(b.NextTxnIdResponse, st.integers(-(2**63), 2**63 - 1)),
    ),
    st.tuples(
        st.sampled_from([OC_DELETE_HANDLE, OC_ADD_VALUE, OC_REMOVE_VALUE, OC_HOME_NA]),
        st.just(RC_SUCCESS),
        st.just(b.EmptyBody()),
    ),
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """A well-formed message of the current protocol version."""
    op, rc, body = draw(st.one_of(REQUESTS, RESPONSES))
    msg = Message(
        op_code=op,
        response_code=rc,
        body=body,
        flags=draw(st.integers(0, 0xFFFFFFFF)) & ~0x000FFFFF,
        site_info_serial=draw(int16),
        recursion_count=draw(octet),
        expiration=draw(int32),
        request_id=draw(int32),
        session_id=draw(int32),
        signature=draw(st.one_of(st.none(), st.binary(min_size=1, max_size=40))),
    )
    if rc != 0 and msg.return_request_digest:
        msg.request_digest = draw(digests)
    return msg
