import pytest

from students.phones import (
    InvalidPhoneNumber,
    is_valid_phone,
    mask_phone,
    mask_phones_in,
    normalize_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-7890",
        "+62 812 3456 7890",
        "812 3456 7890",
        "6281234567890",
        " (0812) 3456 7890 ",
        "+62-812-3456-7890",
    ],
)
def test_every_common_way_of_writing_a_number_normalizes_to_one_form(raw):
    assert normalize_phone(raw) == "6281234567890"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "kosong"),
        ("   ", "kosong"),
        ("0812", "terlalu pendek"),
        ("0812-abc-7890", "hanya boleh berisi angka"),
        ("08123456789012345", "terlalu panjang"),
        ("+1 415 555 0100", "Hanya nomor Indonesia"),
        ("021 555 1234", "bukan nomor ponsel"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason_in_indonesian(raw, why):
    with pytest.raises(InvalidPhoneNumber) as err:
        normalize_phone(raw)
    assert why in str(err.value.reason)
    assert not is_valid_phone(raw)


def test_mask_keeps_the_prefix_and_last_four_digits_only():
    assert mask_phone("6281234567890") == "62812****7890"
    assert mask_phone("0812-3456-7890") == "08123****7890"


def test_mask_of_a_short_or_empty_value_reveals_almost_nothing():
    assert mask_phone("0812") == "****12"
    assert mask_phone("") == ""


def test_numbers_inside_a_text_are_masked_as_one_number_is():
    answer = '{"reason": "target invalid", "target": ["6281234567890", "081299998888"]}'

    assert mask_phones_in(answer) == (
        '{"reason": "target invalid", "target": ["62812****7890", "08129****8888"]}'
    )


def test_ids_and_dates_in_a_text_are_left_alone():
    text = 'id 80367170, requestid 2937124, at 2026-11-05 10:00:00, "status": false'

    assert mask_phones_in(text) == text
    assert mask_phones_in("") == ""
