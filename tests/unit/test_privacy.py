import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.core.privacy import IdentifierKind, pseudonymise, pseudonymise_optional

pytestmark = pytest.mark.unit
KEY = b"k" * 32


@pytest.mark.parametrize(
    ("kind", "spellings"),
    [
        (
            IdentifierKind.PHONE,
            ["06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "06.12.34.56.78"],
        ),
        (IdentifierKind.PLATE, ["GH-123-JK", "gh 123 jk", "GH123JK"]),
        (IdentifierKind.NAME, ["Jérôme Dupont", "  JEROME   dupont ", "jerome dupont"]),
    ],
)
def test_spellings_of_one_identifier_share_a_pseudonym(kind, spellings):
    assert len({pseudonymise(s, KEY, kind) for s in spellings}) == 1


def test_known_value_is_hmac_sha256_of_kind_and_normal_form():
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"plate:GH123JK", hashlib.sha256).hexdigest()
    assert pseudonymise("gh-123-jk", KEY, IdentifierKind.PLATE) == expected


def test_kind_and_key_separate_domains():
    assert pseudonymise("0612", KEY, IdentifierKind.PHONE) != pseudonymise(
        "0612", KEY, IdentifierKind.PLATE
    )
    assert pseudonymise("x", KEY) != pseudonymise("x", b"other-key")


def test_blank_values_stay_absent_and_empty_key_is_refused():
    assert pseudonymise_optional(None, KEY) is None
    assert pseudonymise_optional(" - ", KEY, IdentifierKind.PLATE) is None
    with pytest.raises(ValueError, match="key is empty"):
        pseudonymise("x", b"")


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1), st.sampled_from(list(IdentifierKind)))
def test_pseudonym_is_hex_digest_never_the_value(value, kind):
    out = pseudonymise(value, KEY, kind)
    assert re.fullmatch(r"[0-9a-f]{64}", out)
    assert out == pseudonymise(value, KEY, kind)
    if len(value.strip()) >= 4 and not set(value) <= set("0123456789abcdef"):
        assert value.strip() not in out
