"""Server selection vectors, worked out by hand from CNRI SiteInfo.getHandleHash.

How each expected number was obtained: take the hashed part of the handle
(prefix / suffix / all, ASCII upper-cased), run ``printf '%s' PART | md5sum``,
read the digest's last four octets as a signed 32-bit big-endian int, take its
absolute value (Java Math.abs), then the remainder modulo the server count.

=================  =========  ==================================  ========  ==========
handle             option     hashed part -> md5 (last 4 octets)  int32     abs
=================  =========  ==================================  ========  ==========
88.118.8/TV-0001   prefix     88.118.8 -> ...892bcebb             negative  1993617733
88.118.8/tv-0001   suffix     TV-0001  -> ...7042cb5e             positive  1883425630
88.118.8/TV-0001   all        88.118.8/TV-0001 -> ...f245483d     negative   230340547
ABC (no slash)     prefix     0.NA     -> ...0228b867             positive    36223079
=================  =========  ==================================  ========  ==========
"""

from __future__ import annotations

import pytest

from protocol.constants import HASH_TYPE_BY_ALL, HASH_TYPE_BY_PREFIX, HASH_TYPE_BY_SUFFIX
from protocol.errors import ProtocolError
from protocol.server_select import handle_hash, hash_part, server_index
from protocol.site_info import ServerInfo, SiteInfo

VECTORS = [
    ("88.118.8/TV-0001", HASH_TYPE_BY_PREFIX, 1993617733),
    ("88.118.8/tv-0001", HASH_TYPE_BY_SUFFIX, 1883425630),
    ("88.118.8/TV-0001", HASH_TYPE_BY_ALL, 230340547),
    ("ABC", HASH_TYPE_BY_PREFIX, 36223079),
]


@pytest.mark.parametrize(("handle", "option", "expected"), VECTORS)
def test_handle_hash(handle: str, option: int, expected: int) -> None:
    assert handle_hash(handle, option) == expected
    assert handle_hash(handle.encode(), option) == expected


def test_server_index_modulo() -> None:
    # 1993617733 % 2,3,4,5 = 1,1,1,3 ; 1883425630 % ... = 0,1,2,0
    assert [server_index("88.118.8/TV-0001", 0, n) for n in (2, 3, 4, 5)] == [1, 1, 1, 3]
    assert [server_index("88.118.8/tv-0001", 1, n) for n in (2, 3, 4, 5)] == [0, 1, 2, 0]
    assert [server_index("88.118.8/TV-0001", 2, n) for n in (2, 3, 4, 5)] == [1, 1, 3, 2]
    assert [server_index("ABC", 0, n) for n in (2, 3, 4, 5)] == [1, 2, 3, 4]


def test_upper_case_is_ascii_only() -> None:
    assert hash_part("88.118.8/tv-ä", HASH_TYPE_BY_SUFFIX) == "TV-ä".encode()
    assert hash_part("a/b/c", HASH_TYPE_BY_SUFFIX) == b"B/C"
    assert hash_part("a/b/c", HASH_TYPE_BY_PREFIX) == b"A"


def test_server_index_and_errors() -> None:
    servers = tuple(ServerInfo(i, bytes(16)) for i in range(1, 4))
    site = SiteInfo(servers=servers, hash_option=HASH_TYPE_BY_PREFIX)
    assert server_index("88.118.8/TV-0001", site.hash_option, len(servers)) == 1
    with pytest.raises(ProtocolError):
        server_index("x", 7, 3)
    with pytest.raises(ProtocolError):
        server_index("x", 0, 0)
