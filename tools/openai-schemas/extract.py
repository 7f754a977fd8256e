#!/usr/bin/env python3
"""Extracts the reply schemas Lockstep's tests validate against from OpenAI's published OpenAPI
description (github.com/openai/openai-openapi, openapi.json), with every schema they reference, as
one JSON Schema document: components become $defs, OpenAPI's `nullable` becomes a null type, and
descriptions and examples are dropped.

    python3 tools/openai-schemas/extract.py OPENAPI_JSON COMMIT > lockstep-server/src/test/resources/openai/schemas.json
"""
import json
import sys

ROOTS = ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "CreateCompletionResponse",
         "Response", "ResponseStreamEvent", "CreateEmbeddingResponse", "ListModelsResponse"]
DROP = {"description", "example", "examples", "x-oaiMeta", "x-oaiTypeLabel", "x-stainless-const", "title", "deprecated"}


def main():
    spec = json.load(open(sys.argv[1]))
    commit = sys.argv[2]
    schemas = spec["components"]["schemas"]
    keep, todo = {}, list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = clean(schemas[name], todo)
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Extracted by tools/openai-schemas/extract.py from github.com/openai/openai-openapi openapi.json at commit "
                    + commit + " (OpenAPI " + spec["openapi"] + ", API version " + spec["info"]["version"] + "; MIT licence).",
        "$defs": dict(sorted(keep.items())),
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


def clean(node, todo):
    if isinstance(node, dict):
        if node.get("nullable") is True:  # OpenAPI 3.0's nullable, which JSON Schema does not know: null joins the type
            node = dict(node)
            del node["nullable"]
            if isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = node["enum"] + [None]
            if "$ref" in node or "allOf" in node or "anyOf" in node or "oneOf" in node:
                node = {"anyOf": [node, {"type": "null"}]}
        out = {}
        for k, v in node.items():
            if k in DROP and not isinstance(v, dict) or k in ("x-oaiMeta", "example", "examples"):
                continue
            if k == "$ref":
                name = v.rsplit("/", 1)[1]
                todo.append(name)
                out[k] = "#/$defs/" + name
            elif k == "properties":  # property names are data, not keywords
                out[k] = {p: clean(s, todo) for p, s in v.items()}
            else:
                out[k] = clean(v, todo)
        return out
    if isinstance(node, list):
        return [clean(x, todo) for x in node]
    return node


if __name__ == "__main__":
    main()
