import json


def test_save_then_search_finds_it(km):
    saved = km.run("save", "Use WAL mode for the store", "-s", "Store uses WAL", "--json", check=True)
    oid = json.loads(saved.stdout)["observation_id"]
    found = km.run("search", "WAL", "--json", check=True)
    assert [o["observation_id"] for o in json.loads(found.stdout)["hits"]] == [oid]
