import pytest
from hypothesis import given, strategies as st

from ida.hypertext import HypertextError, Message, PointerNames, msg, parse


def test_nested_brackets_become_separate_messages():
    m = parse("is the list [1 [2 [3 []]]] sorted?")
    assert m.parts[0] == "is the list " and m.parts[2] == " sorted?"
    inner = m.parts[1]
    assert isinstance(inner, Message) and inner.text() == "1 [2 [3 []]]"
    assert inner.children[0].children[0].children[0] == Message(())
    assert m.text() == "is the list [1 [2 [3 []]]] sorted?"


def test_content_addressing_ignores_how_a_message_was_built():
    built = Message(("is ", Message(("1 ", Message(()))), " sorted?"))
    assert parse("is [1 []] sorted?") == built
    assert parse("is [1 []] sorted?").address == built.address
    assert Message(("a", "b")) == msg("ab")  # adjacent text is merged: one canonical form
    assert parse("is [1 []] sorted?") != parse("is [2 []] sorted?")


def test_pointers_refer_to_known_messages():
    a = parse("[x [y]]").children[0]
    q = parse("what is $1 made of?", [a])
    assert q.children == [a]
    assert parse("$1 and $1", {1: a}).children == [a, a]


@pytest.mark.parametrize(
    "text, position, words",
    [("a [b", 2, "never closed"), ("a ] b", 2, "closes nothing"), ("cost $ 5", 5, "pointer"),
     ("see $4", 4, "unknown pointer $4"), ("x \\q", 2, "backslash"), ("[[a]", 0, "never closed")],
)
def test_malformed_text_names_the_position(text, position, words):
    with pytest.raises(HypertextError) as e:
        parse(text)
    assert f"position {position}" in str(e.value) and words in str(e.value)


def test_local_pointer_names_follow_first_appearance():
    one, two = parse("[a] [b]").children
    names = PointerNames()
    assert names.render(Message(("x ", two, " y ", one, " ", two))) == "x $1 y $2 $1"
    other = PointerNames()  # same content in another workspace renders the same
    assert other.render(Message(("x ", two, " y ", one, " ", two))) == "x $1 y $2 $1"
    assert names.get(1) == two and names.get(3) is None


def test_deep_nesting_needs_no_recursion():
    depth = 20_000
    text = "[" * depth + "]" * depth
    m = parse(text)
    assert m.text() == text


def _messages():
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
    return st.recursive(
        st.lists(text, max_size=3).map(lambda ps: Message(tuple(ps))),
        lambda inner: st.lists(st.one_of(text, inner), max_size=4).map(lambda ps: Message(tuple(ps))),
        max_leaves=12,
    )


@given(_messages())
def test_parse_of_render_is_identity(m):
    assert parse(m.text()) == m
    assert parse(m.text()).text() == m.text()


@given(st.text(max_size=30))
def test_any_text_either_parses_or_raises_hypertext_error(s):
    try:
        parse(s)
    except HypertextError as e:
        assert "position" in str(e)


def test_a_pointer_followed_by_a_digit_stays_one_pointer():
    a, b = parse("[a] [b]").children
    q = Message(("what is ", a, "1 plus ", b, "?"))
    names = PointerNames()
    shown = names.render(q)
    assert shown == "what is $1\\1 plus $2?"
    assert parse(shown, names) == q


def test_eleven_pointers_never_name_the_wrong_one():
    kids = [msg(f"m{i}") for i in range(12)]
    q = Message(tuple(p for k in kids for p in (k, "1")))  # $1 then "1", ... $11 then "1"
    names = PointerNames()
    assert parse(names.render(q), names) == q


@given(st.lists(st.one_of(st.text(alphabet="0123456789 ab$[]\\٣", max_size=4), _messages()), max_size=6))
def test_rendered_workspace_text_parses_back_to_the_same_message(parts):
    m = Message(tuple(parts))
    names = PointerNames()
    assert parse(names.render(m), names) == m


def test_a_pointer_past_pythons_int_limit_is_unknown_not_a_crash():
    with pytest.raises(HypertextError, match="unknown pointer"):
        parse("see $" + "9" * 5000)
