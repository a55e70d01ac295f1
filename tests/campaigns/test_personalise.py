import pytest

from campaigns.personalise import Recipient, TemplateError, template_check, template_render

TENDAI = Recipient(first_name="Tendai", last_name="Moyo", phone="+263771234567")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {name}, enjoy 20% off this week!", "Hi Tendai, enjoy 20% off this week!"),
        ("{first_name} {last_name} ({phone})", "Tendai Moyo (+263771234567)"),
        ("No placeholders", "No placeholders"),
        ("Literal {{braces}} and {name}", "Literal {braces} and Tendai"),
        ("{name}{name}", "TendaiTendai"),
        ("", ""),
    ],
)
def test_templates_render_per_recipient(template, expected):
    template_check(template)

    assert template_render(template, TENDAI) == expected


def test_an_empty_name_renders_empty():
    assert template_render("Hi {name}!", Recipient("", "", "+263771234567")) == "Hi !"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Hi {nmae}", "Unknown placeholder {nmae}"),
        ("Hi {}", "Unknown placeholder {}"),
        ("Hi {0}", "Unknown placeholder {0}"),
        ("Hi {name.upper}", "Unknown placeholder {name.upper}"),
        ("Hi {name[0]}", "Unknown placeholder {name[0]}"),
        ("Hi {name!r}", "takes no format or conversion"),
        ("Hi {name:>10}", "takes no format or conversion"),
        ("Hi {name", "expected '}' before end of string"),
        ("Hi name}", "Single '}' encountered"),
        ("Hi {", "Single '{' encountered"),
    ],
)
def test_bad_templates_are_refused_naming_the_problem(template, message):
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}").replace("[", r"\[")):
        template_check(template)
