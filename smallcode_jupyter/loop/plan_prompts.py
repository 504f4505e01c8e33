"""Prompts and the plan's JSON Schema, for the decomposer.

The plan's shape is enforced while the model writes it (llama.cpp compiles the schema to a
grammar; a model server takes it as a structured-output schema): small models do not reliably
write valid JSON otherwise.
"""

SYSTEM = "You are a senior Python architect. You split programming tasks into small parts."

PLAN = (
    "Split this task into 2 to 6 parts. Each part is one Python function or class, written "
    "separately. Give each a name, its signature, a one-line purpose, and the names of the parts "
    "it uses.\n\nTask: {task}"
)

# Patterns rather than minLength/maxLength: a text is one line without quotes or escapes, as the
# planner has always allowed (a length-limited JSON string would admit escapes and newlines).
_NAME = {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]{0,40}$"}
_TEXT = {"type": "string", "pattern": r'^[^"\\\n]{1,160}$'}

# 2 to 6 parts, each with exactly these keys in this order (small models keep to it when forced).
SCHEMA = {
    "type": "object",
    "properties": {
        "parts": {
            "type": "array",
            "minItems": 2,
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "name": _NAME,
                    "signature": _TEXT,
                    "purpose": _TEXT,
                    "depends": {"type": "array", "maxItems": 6, "items": _NAME},
                },
                "required": ["name", "signature", "purpose", "depends"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["parts"],
    "additionalProperties": False,
}
