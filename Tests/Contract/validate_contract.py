#!/usr/bin/env python3
"""Checks messages against an AsyncAPI 3.0 contract written by `smartcity contract`.

Usage: validate_contract.py CONTRACT.json GOOD.jsonl BAD.jsonl

Every reference in the document must resolve and every payload schema must be a valid JSON
Schema (draft-07). Each line of GOOD (a message file: topic and payload) must match a channel
and validate against one of its messages; each line of BAD (topic, payload, why) must not.
Exits 0 when both hold, else 1 naming the first message that breaks the rule.
"""
import json
import re
import sys

from jsonschema import Draft7Validator


def main(contract_path, good_path, bad_path):
    doc = json.load(open(contract_path))
    if doc.get("asyncapi") != "3.0.0":
        return fail(f"asyncapi is {doc.get('asyncapi')!r}, not '3.0.0'")

    def resolve(ref):
        if not ref.startswith("#/"):
            raise ValueError(f"not a local reference: {ref}")
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    for name, operation in doc["operations"].items():
        if operation["action"] not in ("send", "receive"):
            return fail(f"operation {name}: action {operation['action']!r}")
        resolve(operation["channel"]["$ref"])
    routes = []
    for name, channel in doc["channels"].items():
        parameters = set(re.findall(r"\{([a-z]+)\}", channel["address"]))
        if parameters != set(channel.get("parameters", {})):
            return fail(f"channel {name}: parameters {sorted(channel.get('parameters', {}))} for {channel['address']}")
        pattern = "^" + re.sub(r"\\\{[a-z]+\\\}", "[^/]+", re.escape(channel["address"])) + "$"
        messages = [resolve(m["$ref"]) for m in channel["messages"].values()]
        for message in messages:
            Draft7Validator.check_schema(message["payload"])
        routes.append((re.compile(pattern), name, messages))

    def check(topic, payload):
        for address, name, messages in routes:
            if address.match(topic):
                for message in messages:
                    value = payload
                    if message.get("contentType", doc.get("defaultContentType")) != "text/plain":
                        try:
                            value = json.loads(payload)
                        except ValueError:
                            continue
                    if Draft7Validator(message["payload"]).is_valid(value):
                        return name
                return None
        return None

    good = 0
    for line in open(good_path):
        m = json.loads(line)
        payload = m["payload"] if isinstance(m["payload"], str) else json.dumps(m["payload"])
        if check(m["topic"], payload) is None:
            return fail(f"a good message does not validate: {m['topic']} {payload[:300]}")
        good += 1
    bad = 0
    for line in open(bad_path):
        case = json.loads(line)
        channel = check(case["topic"], case["payload"])
        if channel is not None:
            return fail(f"a bad payload ({case['why']}) validates on {channel}: {case['topic']} {case['payload']}")
        bad += 1
    print(f"contract: {good} good messages valid, {bad} bad payloads refused")
    return 0


def fail(text):
    print(f"contract: {text}")
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
