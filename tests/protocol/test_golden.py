"""Golden byte vectors for the wire codec.

Every vector below was written out by hand, field by field, from RFC 3652 and
from the CNRI reference (``net.handle.hdllib.Encoder`` and friends; the method
is named beside each vector).  They are not produced by this codec.
"""

from __future__ import annotations

from protocol.admin_record import AdminRecord, decode_admin_record, encode_admin_record
from protocol.bodies import (
    ChallengeAnswerRequest,
    ChallengeResponse,
    ErrorResponse,
    GetSiteInfoResponse,
    HandleRequest,
    ReferralResponse,
    ResolutionRequest,
    ResolutionResponse,
    SessionSetupRequest,
    VerifyAuthRequest,
)
from protocol.constants import (
    ADMIN_PERM_ALL,
    DEFAULT_MESSAGE_FLAGS,
    KEY_EXCHANGE_CIPHER_SERVER,
    MSG_FLAG_RRDG,
    OC_CREATE_HANDLE,
    OC_GET_SITE_INFO,
    OC_RESOLUTION,
    OC_RESPONSE_TO_CHALLENGE,
    OC_SESSION_SETUP,
    OC_VERIFY_CHALLENGE,
    RC_AUTHENTICATION_NEEDED,
    RC_HANDLE_NOT_FOUND,
    RC_SERVER_BACKUP,
    RC_SERVICE_REFERRAL,
    RC_SUCCESS,
    SP_HDL_TCP,
    SP_HDL_UDP,
    ST_ADMIN_AND_QUERY,
    ST_QUERY,
)
from protocol.digests import RequestDigest
from protocol.envelope import Envelope, decode_envelope, encode_envelope
from protocol.framing import decode_packet, encode_tcp
from protocol.message import Message, decode_message, encode_message
from protocol.public_key import (
    DSAKeyNumbers,
    RSAKeyNumbers,
    decode_key_numbers,
    encode_key_numbers,
)
from protocol.site_info import (
    Attribute,
    Interface,
    ServerInfo,
    SiteInfo,
    decode_site_info,
    encode_site_info,
)
from protocol.value_codec import decode_value, encode_value
from protocol.values import HandleValue, ValueReference


def h(text: str) -> bytes:
    """Hex with spaces and comments (after '#') removed."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


# Encoder.encodeEnvelope: major, minor, flags|suggestMajor, suggestMinor,
# sessionId, requestId, messageId, messageLength.
ENVELOPE = h("""
02 0b        # protocol 2.11 (what CNRI 9.x sends once it knows the server)
02 0b        # flags 0 | suggested major 2, suggested minor 11
00000000     # session id
01020304     # request id
00000000     # sequence number
00000033     # message length 51 = 24 header + 23 body + 4 credential length
""")

# Encoder.writeHeader + Encoder.encodeResolutionRequest, handle 0.NA/88.118, no
# index or type filter; followed by AbstractMessage.getEncodedMessage's
# credential length 0.
RESOLUTION_REQUEST = h("""
00000001     # op code OC_RESOLUTION
00000000     # response code RC_RESERVED (request)
19000000     # flags RECU 0x10000000 | CACR 0x08000000 | PUBL 0x01000000
ffff         # site info serial -1
00           # recursion count
00           # reserved
6553f100     # expiration 1700000000
00000017     # body length 23
0000000b 302e4e412f38382e313138   # handle "0.NA/88.118"
00000000     # index list: 0 entries
00000000     # type list: 0 entries
00000000     # credential length 0
""")


def test_envelope_golden() -> None:
    env = Envelope(message_length=51, request_id=0x01020304)
    assert encode_envelope(env) == ENVELOPE
    assert decode_envelope(ENVELOPE) == env


def test_resolution_request_golden() -> None:
    msg = Message(
        op_code=OC_RESOLUTION,
        body=ResolutionRequest("0.NA/88.118"),
        expiration=1700000000,
        request_id=0x01020304,
    )
    assert encode_message(msg) == RESOLUTION_REQUEST
    assert encode_tcp(msg) == ENVELOPE + RESOLUTION_REQUEST
    back = decode_message(decode_envelope(ENVELOPE), RESOLUTION_REQUEST)
    assert back.body == ResolutionRequest("0.NA/88.118")
    assert back.recursive and back.public_only and back.cache_certify and not back.certify
    assert back.site_info_serial == -1
    assert back.expiration == 1700000000
    assert back.signature is None
    assert back.encoded == RESOLUTION_REQUEST[:-4]
    assert decode_packet(ENVELOPE + RESOLUTION_REQUEST) == back


# Encoder.encodeHandleValue: index, timestamp, ttlType, ttl, permissions, type,
# data, references.
URL_VALUE = h("""
00000001     # index 1
65937d25     # timestamp 1704164645 = 2024-01-02T03:04:05Z
00           # ttl type relative
00015180     # ttl 86400
0e           # permissions: admin read 8 | admin write 4 | public read 2
00000003 55524c                    # type "URL"
00000016 68747470733a2f2f6578616d706c652e636f6d2f7476   # "https://example.com/tv"
00000000     # no references
""")
URL_HV = HandleValue(1, "URL", b"https://example.com/tv", timestamp=1704164645)


def test_url_value_golden() -> None:
    assert encode_value(URL_HV) == URL_VALUE
    assert decode_value(URL_VALUE) == URL_HV


def test_value_with_reference_golden() -> None:
    # Encoder.encodeHandleValue, references part: count, (handle, index)*;
    # permission byte 0x0f adds public write 1.
    raw = h("""
    00000002 00000000 01 6553f100 0f   # index 2, ts 0, absolute ttl 1700000000, perms 0x0f
    00000005 454d41494c                # "EMAIL"
    00000000                           # empty data
    00000001 00000003 612f62 0000012c  # 1 reference: "a/b" index 300
    """)
    hv = HandleValue(
        2,
        "EMAIL",
        b"",
        ttl_type=1,
        ttl=1700000000,
        public_write=True,
        references=(ValueReference("a/b", 300),),
    )
    assert encode_value(hv) == raw
    assert decode_value(raw) == hv


# Encoder.encodeResolutionResponse: header (RC_SUCCESS), handle, value count, values.
RESOLUTION_RESPONSE = (
    h("""
00000001 00000001 19000000 0005 00 00 6553f100   # op 1, rc 1, flags, serial 5
0000004b                                          # body length 75
00000010 38382e3131382e382f54562d30303031         # handle "88.118.8/TV-0001"
00000001                                          # one value
""")
    + URL_VALUE
    + h("00000000")
)


def test_resolution_response_golden() -> None:
    msg = Message(
        op_code=OC_RESOLUTION,
        response_code=RC_SUCCESS,
        body=ResolutionResponse("88.118.8/TV-0001", (URL_HV,)),
        site_info_serial=5,
        expiration=1700000000,
    )
    assert encode_message(msg) == RESOLUTION_RESPONSE
    env = Envelope(message_length=len(RESOLUTION_RESPONSE))
    back = decode_message(env, RESOLUTION_RESPONSE)
    assert back.body == msg.body
    assert back.response_code == RC_SUCCESS


# Encoder.encodeErrorMessage: header, message length, message.
ERROR_RESPONSE = h("""
00000001 00000064 19000000 ffff 00 00 00000000   # op 1, rc 100 HANDLE_NOT_FOUND, expiration 0
00000014                                          # body length 20
00000010 48616e646c65206e6f7420666f756e64         # "Handle not found"
00000000
""")


def test_error_response_golden() -> None:
    msg = Message(
        op_code=OC_RESOLUTION,
        response_code=RC_HANDLE_NOT_FOUND,
        body=ErrorResponse(b"Handle not found"),
    )
    assert encode_message(msg) == ERROR_RESPONSE
    back = decode_message(Envelope(message_length=len(ERROR_RESPONSE)), ERROR_RESPONSE)
    assert back.body == ErrorResponse(b"Handle not found")
    assert back.response_code == RC_HANDLE_NOT_FOUND


# Encoder.encodeAdminRecord: permissions (int2), admin handle, admin index.
ADMIN_DATA = h("""
0fff                                   # all twelve permissions
0000000b 302e4e412f38382e313138        # "0.NA/88.118"
000000c8                               # index 200
""")


def test_hs_admin_golden() -> None:
    rec = AdminRecord("0.NA/88.118", 200, ADMIN_PERM_ALL)
    assert encode_admin_record(rec) == ADMIN_DATA
    assert decode_admin_record(ADMIN_DATA) == rec
    legacy = decode_admin_record(ADMIN_DATA + b"\0\0")  # handle 7.3 trailing octets
    assert legacy.legacy_byte_length
    assert encode_admin_record(legacy) == ADMIN_DATA + b"\0\0"
    # HS_ADMIN as a whole value, index 100
    value = HandleValue(100, "HS_ADMIN", ADMIN_DATA)
    assert encode_value(value) == h("""
    00000064 00000000 00 00015180 0e
    00000008 48535f41444d494e          # "HS_ADMIN"
    00000015""") + ADMIN_DATA + h("00000000")


# Encoder.encodeSiteInfoRecord, one server with a TCP and a UDP interface.
SITE_DATA = h("""
0001          # data format version 1
02 0b         # protocol 2.11
0003          # serial 3
80            # primary
02            # hash option: by all
00000000      # empty hash filter
00000001      # one attribute
00000004 64657363  00000004 74657374          # "desc" = "test"
00000001      # one server
00000001      # server id 1
000000000000000000000000 7f000001             # 127.0.0.1, zero padded to 16 octets
00000003 010203                               # public key bytes
00000002      # two interfaces
03 01 00000a51   # admin+query, TCP, port 2641
02 00 00000a51   # query, UDP, port 2641
""")


def test_hs_site_golden() -> None:
    site = SiteInfo(
        serial_number=3,
        is_primary=True,
        attributes=(Attribute(b"desc", b"test"),),
        servers=(
            ServerInfo(
                1,
                bytes(12) + bytes([127, 0, 0, 1]),
                b"\x01\x02\x03",
                (
                    Interface(ST_ADMIN_AND_QUERY, SP_HDL_TCP, 2641),
                    Interface(ST_QUERY, SP_HDL_UDP, 2641),
                ),
            ),
        ),
    )
    assert encode_site_info(site) == SITE_DATA
    assert decode_site_info(SITE_DATA) == site
    assert site.servers[0].ip == "127.0.0.1"


# Util.getBytesFromPublicKey: type, flags (int2), then BigInteger.toByteArray
# of the parts, each length-prefixed (leading zero octet when the top bit is set).
RSA_BLOB = h("""
0000000b 5253415f5055425f4b4559   # "RSA_PUB_KEY"
0000                              # flags
00000003 010001                   # e = 65537
00000003 00c3f1                   # n = 0xc3f1 (top bit set -> leading 00)
00000000                          # the buffer is sized for 4 length fields, 3 are written
""")
DSA_BLOB = h("""
0000000b 4453415f5055425f4b4559   # "DSA_PUB_KEY"
0000
00000002 008f                     # q = 0x8f
00000001 7f                       # p = 0x7f
00000001 02                       # g = 2
00000002 0080                     # y = 0x80
""")


def test_public_key_blobs_golden() -> None:
    assert encode_key_numbers(RSAKeyNumbers(n=0xC3F1, e=65537)) == RSA_BLOB
    assert decode_key_numbers(RSA_BLOB) == RSAKeyNumbers(n=0xC3F1, e=65537)
    dsa_numbers = DSAKeyNumbers(p=0x7F, q=0x8F, g=2, y=0x80)
    assert encode_key_numbers(dsa_numbers) == DSA_BLOB
    assert decode_key_numbers(DSA_BLOB) == dsa_numbers


def _roundtrip_golden(msg: Message, raw: bytes, major: int = 2, minor: int = 10) -> Message:
    assert encode_message(msg) == raw
    env = Envelope(message_length=len(raw), major_version=major, minor_version=minor)
    back = decode_message(env, raw)
    assert back.body == msg.body
    return back


def test_challenge_response_golden() -> None:
    # Encoder.encodeChallenge (>= 2.1): request digest first (code + bytes), then the nonce
    raw = (
        h("""
    00000064 00000192 19800000 ffff 00 00 00000000   # op 100, rc 402, flags + RRDG 0x00800000
    00000035                                          # body 53 = 1 + 32 + 4 + 16
    03                                                # digest code SHA-256
    """)
        + b"\xaa" * 32
        + h("""
    00000010 000102030405060708090a0b0c0d0e0f         # nonce
    00000000
    """)
    )
    msg = Message(
        OC_CREATE_HANDLE,
        RC_AUTHENTICATION_NEEDED,
        ChallengeResponse(bytes(range(16))),
        flags=DEFAULT_MESSAGE_FLAGS | MSG_FLAG_RRDG,
        request_digest=RequestDigest(3, b"\xaa" * 32),
    )
    back = _roundtrip_golden(msg, raw)
    assert back.request_digest == RequestDigest(3, b"\xaa" * 32)


def test_challenge_answer_and_verify_request_golden() -> None:
    # Encoder.encodeChallengeAnswer: auth type, user handle, user index, signed response
    answer = h("""
    000000c8 00000000 00000000 ffff 00 00 00000000 00000024   # op 200, body 36
    00000009 48535f5345434b4559          # "HS_SECKEY"
    00000005 302e4e412f                  # "0.NA/"
    0000012c                             # index 300
    00000006 02aabbccddee                # signed response: code 2 + 5 octets
    00000000
    """)
    body = ChallengeAnswerRequest("HS_SECKEY", "0.NA/", 300, bytes.fromhex("02aabbccddee"))
    _roundtrip_golden(Message(OC_RESPONSE_TO_CHALLENGE, body=body, flags=0), answer)
    # Encoder.encodeVerifyAuthRequest: handle, index, nonce, digest (length-prefixed), answer
    verify = h("""
    000000c9 00000000 00000000 ffff 00 00 00000000 00000021   # op 201, body 33
    00000003 612f62 0000012c             # "a/b", index 300
    00000002 0102                        # nonce
    00000004 03040506                    # request digest, old length-prefixed form
    00000004 07080900                    # signed response
    00000000
    """)
    vbody = VerifyAuthRequest(
        "a/b", 300, b"\x01\x02", bytes.fromhex("03040506"), bytes.fromhex("07080900")
    )
    _roundtrip_golden(Message(OC_VERIFY_CHALLENGE, body=vbody, flags=0), verify)
    # decodeVerifyAuthRequest also takes a code octet + fixed-size digest (SHA-1 here)
    new_form = (
        h("""
    000000c9 00000000 00000000 ffff 00 00 00000000 0000002e   # body 46
    00000003 612f62 0000012c 00000002 0102
    02 """)
        + b"\x11" * 20
        + h("00000004 07080900 00000000")
    )
    got = decode_message(Envelope(message_length=len(new_form)), new_form).body
    assert got == VerifyAuthRequest(
        "a/b", 300, b"\x01\x02", b"\x11" * 20, bytes.fromhex("07080900")
    )
    assert isinstance(got, VerifyAuthRequest) and got.digest_alg == 2


def test_session_setup_and_generic_requests_golden() -> None:
    # Encoder.encodeSessionSetupRequest counts 4 octets for the 2-octet mode: 2 zero octets trail
    setup = h("""
    00000190 00000000 00000000 ffff 00 00 00000000 00000013   # op 400, body 19
    0002 00015180 00000003 612f62 0000012c 0000              # server cipher, 86400 s, a/b:300
    00000000
    """)
    sbody = SessionSetupRequest(KEY_EXCHANGE_CIPHER_SERVER, 86400, "a/b", 300)
    _roundtrip_golden(Message(OC_SESSION_SETUP, body=sbody, flags=0), setup)
    # Encoder.encodeGenericRequest: get site info for the blank handle "/"
    site_req = h("00000002 00000000 00000000 ffff 00 00 00000000 00000005 00000001 2f 00000000")
    _roundtrip_golden(Message(OC_GET_SITE_INFO, body=HandleRequest("/"), flags=0), site_req)


def test_referral_and_site_info_response_golden() -> None:
    # Encoder.encodeServiceReferralResponse: handle, then the value list only when present
    referral = h("""
    00000001 0000012e 00000000 ffff 00 00 00000000 00000011   # rc 302, body 17
    0000000d 302e4e412f38382e3131382e39                      # "0.NA/88.118.9"
    00000000
    """)
    _roundtrip_golden(
        Message(OC_RESOLUTION, RC_SERVICE_REFERRAL, ReferralResponse("0.NA/88.118.9"), flags=0),
        referral,
    )
    # prefix referral before 2.5 is read as an error and reported as RC_SERVER_BACKUP
    back = decode_message(
        Envelope(message_length=len(referral), minor_version=4),
        referral.replace(bytes.fromhex("0000012e"), bytes.fromhex("0000012f"), 1),
    )
    assert back.response_code == RC_SERVER_BACKUP
    # Encoder.encodeGetSiteInfoResponse: the HS_SITE record is the body
    resp = h("00000002 00000001 00000000 ffff 00 00 00000000") + len(SITE_DATA).to_bytes(4, "big")
    resp += SITE_DATA + h("00000000")
    site = decode_site_info(SITE_DATA)
    _roundtrip_golden(
        Message(OC_GET_SITE_INFO, RC_SUCCESS, GetSiteInfoResponse(site), flags=0), resp
    )
