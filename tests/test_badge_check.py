"""The anti-clone check's pure functions and its secret file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from station import badge_check as bc
from station.errors import ConfigError

SECRET = bytes(range(32))
uids = st.sampled_from([4, 7]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
secrets_ = st.binary(min_size=32, max_size=32)


@given(secret=secrets_, uid=uids)
def test_the_value_verifies_for_its_uid(secret: bytes, uid: bytes) -> None:
    value = bc.card_value(secret, uid)
    assert len(value) == 16
    assert bc.verify(secret, uid, value)
    assert bc.verify(secret, uid.hex().upper(), value)  # hex as the station stores UIDs


@given(secret=secrets_, uid=uids, other=uids)
def test_the_value_fails_for_any_other_uid(secret: bytes, uid: bytes, other: bytes) -> None:
    assume(other != uid)
    assert not bc.verify(secret, other, bc.card_value(secret, uid))


@given(secret=secrets_, other=secrets_, uid=uids)
def test_the_value_fails_under_any_other_secret(secret: bytes, other: bytes, uid: bytes) -> None:
    assume(other != secret)
    assert not bc.verify(other, uid, bc.card_value(secret, uid))
    assert bc.sector_key(other, uid, 1) != bc.sector_key(secret, uid, 1)


@given(secret=secrets_, uid=uids, sector=st.integers(1, 15))
def test_keys_are_six_bytes_and_differ_by_type_sector_and_uid(
    secret: bytes, uid: bytes, sector: int
) -> None:
    key_a = bc.sector_key(secret, uid, sector, "A")
    key_b = bc.sector_key(secret, uid, sector, "B")
    assert len(key_a) == len(key_b) == 6
    assert key_a != key_b
    assert key_a != bc.sector_key(secret, uid, sector % 15 + 1, "A")
    assert key_a != bc.card_value(secret, uid)[:6]  # the value does not give the key away


def test_a_tampered_block_fails() -> None:
    uid = bytes.fromhex("04A1B2C3")
    value = bytearray(bc.card_value(SECRET, uid))
    value[15] ^= 1
    assert not bc.verify(SECRET, uid, bytes(value))
    assert not bc.verify(SECRET, uid, bytes(16))
    assert not bc.verify(SECRET, uid, b"short")


def test_trailer_lets_key_a_read_and_key_b_write() -> None:
    key_a, key_b = b"AAAAAA", b"BBBBBB"
    t = bc.trailer(key_a, key_b)
    assert t[:6] == key_a and t[10:] == key_b
    assert t[6:10] == bytes.fromhex("78778869")  # the well-known "A reads, B writes" setting
    with pytest.raises(ValueError):
        bc.trailer(b"short", key_b)


def test_value_block_is_the_first_of_the_sector() -> None:
    assert bc.value_block(1) == 4
    assert bc.trailer_block(1) == 7
    for bad in (0, 16):
        with pytest.raises(ValueError):
            bc.value_block(bad)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        bc.card_value(b"short", b"\x04\x01\x02\x03")
    with pytest.raises(ValueError, match="4, 7 or 10"):
        bc.card_value(SECRET, b"\x04\x01")


def test_secret_file_is_created_0600_once(tmp_path: Path) -> None:
    path = tmp_path / "data" / "badge_secret"
    assert bc.create_secret(path) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = bc.load_secret(path)
    assert len(first) == 32
    assert bc.create_secret(path) is False  # never overwritten: every card depends on it
    assert bc.load_secret(path) == first


def test_missing_or_bad_secret_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=r"nope does not exist.*station badge secret --config"):
        bc.load_secret(missing, config)
    short = tmp_path / "short"
    short.write_text("abcd\n")
    with pytest.raises(ConfigError, match="must hold 32 bytes"):
        bc.load_secret(short, config)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot be read"):
        bc.load_secret(folder, config)


def test_secret_path(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "station.toml"
    data = tmp_path / "data"
    assert bc.secret_path("", data, config) == data / "badge_secret"
    assert bc.secret_path("s/key", data, config) == tmp_path / "etc" / "s" / "key"
    assert bc.secret_path("/abs/key", data, config) == Path("/abs/key")
