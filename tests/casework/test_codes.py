from casework import codes


def test_new_codes_validate_and_have_ten_digits():
    for _ in range(2000):
        code = codes.new_code()
        assert len(code) == 10 and code.isdigit() and code[0] != "0"
        assert codes.normalise(code) == code


def test_every_single_digit_typo_is_detected():
    code = codes.new_code()
    for i in range(len(code)):
        for d in "0123456789":
            if d != code[i]:
                typo = code[:i] + d + code[i + 1:]
                assert codes.normalise(typo) is None, typo


def test_every_adjacent_swap_is_detected():
    for _ in range(200):
        code = codes.new_code()
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
                assert codes.normalise(swapped) is None, swapped


def test_spaces_and_dashes_are_accepted_as_typed():
    code = codes.new_code()
    assert codes.normalise(codes.display(code)) == code
    assert codes.normalise(f"{code[:5]}-{code[5:]}") == code


def test_codes_are_not_sequential():
    drawn = sorted(int(codes.new_code()) for _ in range(1000))
    gaps = sorted(b - a for a, b in zip(drawn, drawn[1:], strict=False))
    assert len(set(drawn)) == 1000
    # Random draws over 900 million codes sit about 900,000 apart; a counter would sit 1 apart.
    assert gaps[len(gaps) // 2] > 100_000


def test_non_digit_and_wrong_length_are_refused():
    assert codes.normalise("") is None
    assert codes.normalise("12345") is None
    assert codes.normalise("１２３４５６７８９０") is None  # full-width digits
    assert codes.normalise("abcdefghij") is None
