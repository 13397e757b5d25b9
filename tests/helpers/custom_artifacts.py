"""An importable user artifact type for the tests (save/load recorded by import path)."""

import json


def save_json(obj, path):
    with open(path, "w") as handle:
        json.dump(obj, handle)


def load_json(path):
    with open(path) as handle:
        return json.load(handle)
