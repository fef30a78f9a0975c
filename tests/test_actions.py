import pytest

from ida.actions import Action, ActionError, parse_action


@pytest.mark.parametrize(
    "text, kind, arg",
    [("ask What is 2 * 3?", "ask", "What is 2 * 3?"), ("  reply   yes ", "reply", "yes"),
     ("lookup vase", "lookup", "vase"), ("unlock $12", "unlock", "$12"), ("scratch", "scratch", ""),
     ("REPLY no", "reply", "no")],
)
def test_parse_and_render(text, kind, arg):
    a = parse_action(text)
    assert (a.kind, a.arg) == (kind, arg)
    assert parse_action(a.render()) == a


@pytest.mark.parametrize("text", ["", "jump over", "unlock 3", "unlock $a", "ask", "reply ", "lookup", "ask a\nreply b"])
def test_bad_commands_raise_one_error_type(text):
    with pytest.raises(ActionError):
        parse_action(text)


def test_unlock_pointer():
    assert Action("unlock", "$7").pointer == 7


def test_unlock_with_thousands_of_digits_is_one_action_error():
    for digits in ("9" * 5000, "1" * 19):
        with pytest.raises(ActionError, match="unknown pointer") as e:
            parse_action(f"unlock ${digits}")
        assert "\n" not in str(e.value) and len(str(e.value)) < 100
    with pytest.raises(ActionError):
        parse_action("unlock $١")  # pointers are ASCII digits


def test_failure_answers_belong_to_the_action_language():
    from ida.actions import FAILED, failed

    assert failed(FAILED + "budget exhausted") and failed(None) and not failed("yes")
