// A template skill: two text tools. Copy this directory, edit the tools, run ./build.sh.
//
// The exports `describe` and `invoke` are the component's exports (WIT `describe: func()
// -> list<tool>` and `invoke: func(tool, args-json) -> result<string, string>`).

import { defineSkill, log, ToolError } from "./openlegion-skill.js";

const skill = defineSkill([
  {
    name: "reverse",
    description:
      "Reverse a text character by character. Returns the reversed text as plain text.",
    parameters: {
      type: "object",
      properties: { text: { type: "string", description: "The text to reverse." } },
      required: ["text"],
      additionalProperties: false,
    },
    run: ({ text }) => Array.from(text).reverse().join(""),
  },
  {
    name: "word_count",
    description:
      "Count the words, lines and characters of a text. Returns {\"words\", \"lines\", " +
      "\"characters\"}. Fails on an empty text.",
    parameters: {
      type: "object",
      properties: { text: { type: "string", description: "The text to count." } },
      required: ["text"],
      additionalProperties: false,
    },
    run: ({ text }) => {
      if (text.length === 0) throw new ToolError("the text is empty");
      const counts = {
        words: text.split(/\s+/).filter((w) => w.length > 0).length,
        lines: text.split("\n").length,
        characters: Array.from(text).length,
      };
      log.info(`word_count: ${counts.words} words`);
      return counts;
    },
  },
]);

export function describe() {
  return skill.describe();
}

export function invoke(tool, argsJson) {
  return skill.invoke(tool, argsJson);
}
