"""An advisor document → its system prompt (DESIGN.md 8.2).

Every persona field that shapes how an advisor speaks goes in: identity (name, title,
oneLiner or description), roleDefinition (mission, scope in/out), adviceDelivery (mode,
formality, useEmojis, voiceGuidelines, signOff) with the `responseProtocol` component
(length, tone, action items), character (archetype, temperament, personality,
communicationStyle), coreBeliefsOrPrinciples, experience / expertise / specialties, bio,
the `decisionFramework` component, education and additionalEducation, location,
detailedBackground, personalInterests, and last the roster of the other advisors present.
Left out on purpose, as they say nothing about a voice: image, maritalStatus, the role's
keyPerformanceIndicators, metadata, localization and model settings.

Documents in the wild vary, so a missing, empty or odd-typed field is skipped, never
rendered as "None" nor a crash. The same document gives the same prompt. A prompt is
counted against a small model's budget (about 1,000 tokens on the embedded one), so with
`max_tokens` it shrinks in `_CUTS` order: background and colour go first, then the
detail of principles, roster, scope and voice guidelines, and the identity never.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from advisor_chat.ai.providers.base import TokenCounter
from advisor_chat.ai.providers.counting import EstimateCounter

_FORMALITY = {
    "high": "formal and precise",
    "medium": "professional but relaxed",
    "low": "casual and friendly",
}

# The order sections appear in (identity first, the roster last, where a small model
# pays it most attention).
_LAYOUT = (
    "identity",
    "role",
    "delivery",
    "character",
    "principles",
    "expertise",
    "about",
    "framework",
    "education",
    "location",
    "story",
    "interests",
    "roster",
)
# How a prompt shrinks to fit, first cut first: (section, forms cut). A section's forms go
# from full to shorter; cutting past its last form drops it. The identity is never cut.
_CUTS = (
    ("interests", 1),
    ("story", 1),
    ("location", 1),
    ("education", 1),
    ("framework", 1),  # to its name only
    ("about", 1),
    ("expertise", 1),
    ("principles", 1),  # to the first two
    ("framework", 2),
    ("principles", 2),
    ("roster", 1),  # to names and titles, the rule kept
    ("role", 1),  # to the mission only
    ("delivery", 1),  # without the voice guidelines
    ("character", 1),
    ("role", 2),
    ("roster", 2),
    ("delivery", 2),
)

Forms = tuple[str, ...]  # a section from its full form to its shortest; "" shows nothing


def display_name(advisor: Mapping[str, Any]) -> str:
    """The name an advisor goes by: persona.name, else firstName lastName, else
    "Advisor" (imported documents may lack either)."""
    persona = _object(advisor.get("persona"))
    name = _text(persona.get("name"))
    if name:
        return name
    parts = [_text(advisor.get(key)) for key in ("firstName", "lastName")]
    return " ".join(part for part in parts if part) or "Advisor"


def system_prompt(
    advisor: Mapping[str, Any],
    roster: Sequence[Mapping[str, Any]] = (),
    max_tokens: int | None = None,
    counter: TokenCounter | None = None,
) -> str:
    """The advisor's system prompt, with `roster` (the advisors present; the advisor
    itself is left out of it). With `max_tokens`, sections are shortened or dropped in
    `_CUTS` order until it fits, counted by `counter` (default: `EstimateCounter`); the identity
    alone may still exceed it."""
    sections = _sections(advisor, roster)
    cut = dict.fromkeys(sections, 0)
    text = _render(sections, cut)
    if max_tokens is None:
        return text
    count = (counter or EstimateCounter()).count
    for name, forms_cut in _CUTS:
        if count(text) <= max_tokens:
            break
        cut[name] = forms_cut
        text = _render(sections, cut)
    return text


def _render(sections: Mapping[str, Forms], cut: Mapping[str, int]) -> str:
    shown = (_form(sections[name], cut[name]) for name in _LAYOUT)
    return "\n\n".join(text for text in shown if text)


def _form(forms: Forms, cut: int) -> str:
    return forms[cut] if cut < len(forms) else ""


def _sections(advisor: Mapping[str, Any], roster: Sequence[Mapping[str, Any]]) -> dict[str, Forms]:
    persona = _object(advisor.get("persona"))
    role = _object(advisor.get("roleDefinition"))
    components = _components(advisor.get("components"))
    return {
        "identity": (_identity(advisor, persona),),
        "role": _role(role),
        "delivery": _delivery(_object(persona.get("adviceDelivery")), components),
        "character": _character(persona),
        "principles": _principles(persona),
        "expertise": _expertise(persona),
        "about": _about(persona),
        "framework": _framework(components.get("decisionFramework", {})),
        "education": _education(persona),
        "location": _location(_object(persona.get("location"))),
        "story": tuple(_one(persona.get("detailedBackground"), "Your story: ")),
        "interests": tuple(
            _list_line(persona.get("personalInterests"), "Interests outside work: ")
        ),
        "roster": _roster(advisor, roster),
    }


def _identity(advisor: Mapping[str, Any], persona: Mapping[str, Any]) -> str:
    name = display_name(advisor)
    title = _text(persona.get("title"))
    who = f"{name}, {title}, one of the advisors" if title else f"{name}, one of the advisors"
    lines = [f"You are {who} on the user's AI advisory board."]
    # One-liners are written as a marketplace blurb ("Helps founders ..."), hence the label.
    summary = _text(persona.get("oneLiner")) or _text(persona.get("description"))
    if summary:
        lines.append(f"In one line: {_sentence(summary)}")
    lines.append(f"Speak as {name.split()[0]}, in the first person, and stay in character.")
    return "\n".join(lines)


def _role(role: Mapping[str, Any]) -> Forms:
    scope = _object(role.get("scope"))
    mission = _one(role.get("mission"), "Your mission: ")
    lines = [
        *mission,
        *_list_line(scope.get("inScope"), "You help with: ", sep="; "),
        *_list_line(
            scope.get("outOfScope"),
            "Outside your remit (say so, and suggest who could help): ",
            sep="; ",
        ),
    ]
    return ("\n".join(lines), "\n".join(mission))


def _delivery(delivery: Mapping[str, Any], components: Mapping[str, Any]) -> Forms:
    """How answers sound: approach, register, emojis, length and tone, the guidelines,
    the sign-off. The short form keeps everything but the guidelines."""
    style: list[str] = []
    mode = _text(delivery.get("mode"))
    if mode:
        style.append(f"your approach is {mode}")
    formality = _text(delivery.get("formality"))
    if formality in _FORMALITY:
        style.append(f"you write in a {_FORMALITY[formality]} way")
    elif formality:
        style.append(f"formality: {formality}")
    emojis = delivery.get("useEmojis")
    if emojis is True:
        style.append("an occasional emoji is fine")
    elif emojis is False:
        style.append("you never use emojis")
    head = [f"How you answer: {'; '.join(style)}."] if style else []
    head += _protocol(components.get("responseProtocol", {}))
    guidelines = [f"- {_sentence(g)}" for g in _texts(delivery.get("voiceGuidelines"))]
    sign_off = _text(delivery.get("signOff"))
    tail = [f'End every answer with your sign-off: "{sign_off}"'] if sign_off else []
    full = "\n".join(head + guidelines + tail)
    return (full, "\n".join(head + tail))


def _protocol(config: Mapping[str, Any]) -> list[str]:
    """The responseProtocol component: a length cap (in words), a tone, action items."""
    parts: list[str] = []
    length = config.get("maxResponseLength")
    if type(length) is int and length > 0:
        parts.append(f"keep answers under about {length} words")
    tone = _text(config.get("tone"))
    if tone:
        parts.append(f"sound {tone}")
    if config.get("includeActionItems") is True:
        parts.append("end with concrete next steps")
    if not parts:
        return []
    text = ", ".join(parts)
    return [_sentence(text[0].upper() + text[1:])]


def _character(persona: Mapping[str, Any]) -> Forms:
    traits = [_text(persona.get(key)) for key in ("archetype", "temperament")]
    character = " ".join(_sentence(trait) for trait in traits if trait)
    lines = [f"Character: {character}"] if character else []
    lines += _list_line(persona.get("personality"), "Personality: ")
    lines += _one(persona.get("communicationStyle"), "Communication style: ")
    return ("\n".join(lines),)


def _principles(persona: Mapping[str, Any]) -> Forms:
    items = [f"- {_sentence(p)}" for p in _texts(persona.get("coreBeliefsOrPrinciples"))]
    if not items:
        return ()
    return ("\n".join(["Your principles:", *items]), "\n".join(["Your principles:", *items[:2]]))


def _expertise(persona: Mapping[str, Any]) -> Forms:
    lines = [
        *_one(persona.get("experience"), "Experience: "),
        *_list_line(persona.get("expertise"), "Expertise: "),
        *_list_line(persona.get("specialties"), "Specialties: "),
    ]
    return ("\n".join(lines),)


def _about(persona: Mapping[str, Any]) -> Forms:
    """The bio, after the description when a one-liner already introduced the advisor."""
    parts = [_text(persona.get("bio"))]
    if _text(persona.get("oneLiner")):
        parts.insert(0, _text(persona.get("description")))
    text = " ".join(_sentence(p) for p in parts if p)
    return (f"About you: {text}",) if text else ()


def _framework(config: Mapping[str, Any]) -> Forms:
    """The decisionFramework component: a named list of steps to reason through."""
    steps = _texts(config.get("steps"))
    name = _text(config.get("name"))
    if not steps:
        return (f"Your decision framework: {name}.",) if name else ()
    title = f'"{name}"' if name else "your framework"
    numbered = [f"{n}. {_sentence(step)}" for n, step in enumerate(steps, 1)]
    return (
        "\n".join([f"When a decision is needed, work through {title}:", *numbered]),
        f"Your decision framework: {name}." if name else "",
    )


def _education(persona: Mapping[str, Any]) -> Forms:
    entries = [persona.get("education")]
    extra = persona.get("additionalEducation")
    if type(extra) is list:
        entries += extra
    degrees = [d for d in (_degree(_object(e)) for e in entries) if d]
    return (f"Education: {'; '.join(degrees)}.",) if degrees else ()


def _degree(education: Mapping[str, Any]) -> str:
    """One degree as `Bachelor of Arts in Accounting (a university in Leeds, 2001)`, from
    whichever of degreeName / degreeLevel, major, institution, graduationYear are there."""
    name = _text(education.get("degreeName")) or _text(education.get("degreeLevel"))
    major = _text(education.get("major"))
    if name and major and major.lower() in name.lower():
        major = None  # "Bachelor of Laws", not "Bachelor of Laws in Law"
    what = " in ".join(part for part in (name, major) if part)
    year: object = education.get("graduationYear")
    when = None
    if isinstance(year, int | float) and not isinstance(year, bool) and 1000 <= year <= 9999:
        when = str(int(year))  # (NaN and infinities fail the range test)
    institution = _text(education.get("institution"))
    if not what:  # a year alone says nothing
        what, institution = institution or "", None
    details = ", ".join(part for part in (institution, when) if part)
    return f"{what} ({details})" if what and details else what


def _location(location: Mapping[str, Any]) -> Forms:
    parts = [_text(location.get(key)) for key in ("city", "region", "country")]
    # Each once: "Buenos Aires, Buenos Aires, Argentina" reads as a mistake.
    place = ", ".join(dict.fromkeys(part for part in parts if part))
    zone = _text(location.get("timezone"))
    if place and zone:
        return (f"You are based in {place} (time zone {zone}).",)
    if place:
        return (f"You are based in {place}.",)
    return (f"Your time zone is {zone}.",) if zone else ()


def _roster(advisor: Mapping[str, Any], roster: Sequence[Mapping[str, Any]]) -> Forms:
    """The other advisors present, and the rule that goes with them: defer by name,
    never speak for them. The short form drops their one-liners."""
    me, my_name = advisor.get("_id"), display_name(advisor)
    seen: set[str] = set()
    names: list[str] = []
    full: list[str] = []
    short: list[str] = []
    for other in roster:
        other_id, name = other.get("_id"), display_name(other)
        same = other_id == me if me is not None and other_id is not None else name == my_name
        key = other_id if type(other_id) is str else name
        if same or key in seen:
            continue
        seen.add(key)
        names.append(name)
        persona = _object(other.get("persona"))
        title = _text(persona.get("title"))
        label = f"{name}, {title}" if title else name
        summary = _text(persona.get("oneLiner")) or _text(persona.get("description"))
        full.append(f"- {label}: {_sentence(summary)}" if summary else f"- {label}")
        short.append(f"- {label}")
    if not full:
        return ()
    rule = (
        "When a question belongs in a colleague's field, say so and suggest the user ask "
        f"them by name (for example @{names[0]}). Never speak for a colleague or guess "
        "what they would say."
    )
    head = "Your colleagues on this board:"
    return ("\n".join([head, *full, rule]), "\n".join([head, *short, rule]))


# Reading fields that may be missing, empty or of the wrong type.


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    """A string field, whitespace collapsed (a stray newline cannot break the prompt's
    layout); None when missing, empty or not a string."""
    if type(value) is not str:
        return None
    return " ".join(value.split()) or None


def _components(value: Any) -> dict[str, Mapping[str, Any]]:
    """Each component's config by its id (the first of an id wins)."""
    configs: dict[str, Mapping[str, Any]] = {}
    for entry in value if type(value) is list else []:
        component = _object(entry)
        name = _text(component.get("id"))
        if name and name not in configs:
            configs[name] = _object(component.get("config"))
    return configs


def _texts(value: Any) -> list[str]:
    """The non-empty strings of a list field (a lone string counts as one item)."""
    items: Iterable[Any] = value if type(value) is list else [value]
    return [text for text in map(_text, items) if text]


def _one(value: Any, label: str) -> list[str]:
    text = _text(value)
    return [f"{label}{_sentence(text)}"] if text else []


def _list_line(value: Any, label: str, sep: str = ", ") -> list[str]:
    items = _texts(value)
    return [f"{label}{sep.join(i.rstrip('.') for i in items)}."] if items else []


def _sentence(text: str) -> str:
    """Text ending in sentence punctuation, so joined fields read as sentences."""
    return text if text[-1:] in ".!?…\"')" else f"{text}."
