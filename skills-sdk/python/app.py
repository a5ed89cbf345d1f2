"""A template skill: two text tools. Copy this directory, edit the tools, run ./build.sh.

`WitWorld` below is the component: componentize-py exports its `describe` and `invoke`
(WIT `describe: func() -> list<tool>` and `invoke: func(tool, args-json) ->
result<string, string>`).
"""

import wit_world
from openlegion_skill import Skill, ToolError, log

skill = Skill()


@skill.tool(
    "reverse",
    "Reverse a text character by character. Returns the reversed text as plain text.",
    {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The text to reverse."}},
        "required": ["text"],
        "additionalProperties": False,
    },
)
def reverse(text: str) -> str:
    return text[::-1]


@skill.tool(
    "word_count",
    'Count the words, lines and characters of a text. Returns {"words", "lines", '
    '"characters"}. Fails on an empty text.',
    {
        "type": "object",
        "properties": {"text": {"type": "string", "description": "The text to count."}},
        "required": ["text"],
        "additionalProperties": False,
    },
)
def word_count(text: str) -> dict:
    if not text:
        raise ToolError("the text is empty")
    counts = {"words": len(text.split()), "lines": text.count("\n") + 1, "characters": len(text)}
    log.info(f"word_count: {counts['words']} words")
    return counts


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return skill.describe()

    def invoke(self, tool: str, args_json: str) -> str:
        return skill.invoke(tool, args_json)
