"""Golden byte vectors for the wire codec.

Every vector below was written out by hand, field by field, from RFC 3652 and
from the CNRI reference (``net.handle.hdllib.Encoder`` and friends; the method
is named beside each vector).  They are not produced by this codec.
"""

from __future__ import annotations

from protocol.admin_record import AdminRecord, decode_admin_record, encode_admin_record
from protocol.bodies import ErrorResponse, ResolutionRequest, ResolutionResponse
from protocol.constants import (
    ADMIN_PERM_ALL,
    OC_RESOLUTION,
    RC_HANDLE_NOT_FOUND,
    RC_SUCCESS,
    SP_HDL_TCP,
    SP_HDL_UDP,
    ST_ADMIN_AND_QUERY,
    ST_QUERY,
)
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
02 0a        # protocol 2.10
02 0a        # flags 0 | suggested major 2, suggested minor 10
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
02 0a         # protocol 2.10
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
