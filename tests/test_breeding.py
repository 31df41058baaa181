"""Breeding latents (core/latent/breeding.py): children are seeded random blends plus a mutation, the
family tree undoes and redoes its steps, and a child's lineage replays to its latent bit for bit; the
family tree file (core/latent/breeding_file.py) reads back bit for bit and refuses a damaged one."""
import json

import numpy as np
import pytest

from latent_explorer.core.latent.breeding import FamilyTree, child_latent, describe, replay
from latent_explorer.core.latent.breeding_file import family_json, read_family


def _tree(shape=(8,), n_roots=3):
    rng = np.random.default_rng(0)
    t = FamilyTree()
    roots = [t.add_root(rng.standard_normal(shape).astype(np.float32), f"r{i}") for i in range(n_roots)]
    t.set_parents(roots)
    return t, roots


def test_children_are_seeded_blends_whose_weights_sum_to_one():
    t, roots = _tree()
    kids = t.breed(6, 0.2, seed=7)
    again, _ = _tree()
    assert [np.array_equal(t.nodes[k].latent, again.nodes[k2].latent) for k, k2 in zip(kids, again.breed(6, 0.2, 7))] \
        == [True] * 6
    for k in kids:
        n = t.nodes[k]
        assert n.parents == tuple(roots) and n.generation == 1 and n.seed == 7 + kids.index(k)
        assert sum(n.weights) == pytest.approx(1.0) and min(n.weights) >= 0
    assert len({t.nodes[k].weights for k in kids}) == 6  # every child its own weights


def test_mutation_zero_is_the_exact_blend_and_spatial_latents_work():
    parents = np.random.default_rng(1).standard_normal((2, 4, 6, 6)).astype(np.float32)
    z, w = child_latent(parents, seed=3, mutation=0.0)
    assert z.shape == (4, 6, 6) and z.dtype == np.float32
    np.testing.assert_array_equal(z, (w[0] * parents[0].astype(np.float64) + w[1] * parents[1]).astype(np.float32))
    zm, wm = child_latent(parents, seed=3, mutation=0.5)
    np.testing.assert_array_equal(w, wm)
    assert 0.3 < np.std(zm - z) < 0.7  # the mutation is in units of the prior's σ
    one, w1 = child_latent(parents[:1], seed=3, mutation=0.0)  # one parent: itself
    np.testing.assert_array_equal(one, parents[0])
    assert list(w1) == [1.0]
    with pytest.raises(ValueError, match="mutation"):
        child_latent(parents, seed=3, mutation=float("nan"))


def test_lineage_replays_a_second_generation_child_bit_for_bit_through_json():
    t, roots = _tree((3, 4, 4))
    gen1 = t.breed(4, 0.3, seed=11)
    t.set_parents([gen1[0], gen1[2], roots[1]])
    gen2 = t.breed(3, 0.1, seed=99)
    n = t.nodes[gen2[1]]
    assert n.generation == 2
    lin = json.loads(json.dumps(t.lineage(gen2[1])))
    assert {s["id"] for s in lin["steps"]} == {gen1[0], gen1[2], gen2[1]}  # only its own ancestors
    assert set(lin["roots"]) == {str(r) for r in roots}
    np.testing.assert_array_equal(replay(lin), n.latent)
    lin["steps"][0]["seed"] += 1
    with pytest.raises(ValueError, match="other weights"):
        replay(lin)


def test_undo_and_redo_a_generation_and_a_choice_of_parents():
    t, roots = _tree()
    gen1 = t.breed(4, 0.2, seed=1)
    t.set_parents(gen1[:2])
    gen2 = t.breed(4, 0.2, seed=2)
    assert len(t) == 11 and t.children == gen2
    assert t.undo() == "breed" and len(t) == 7 and t.parents == gen1[:2] and t.children == gen1
    assert t.undo() == "parents" and t.parents == roots
    assert t.redo() == "parents" and t.redo() == "breed" and t.children == gen2 and len(t) == 11
    t.undo()
    t.breed(2, 0.0, seed=5)  # a new step drops the redo tail
    assert not t.can_redo and len(t) == 9
    t.go_to(gen1[3])  # back to a first-generation child: its brood and its parents
    assert t.children == gen1 and t.parents == roots


def test_the_tree_round_trips_through_a_dict_and_bad_dicts_are_refused_in_one_line():
    t, roots = _tree()
    t.breed(3, 0.4, seed=4)
    meta, lat = t.to_dict()
    back = FamilyTree.from_dict(json.loads(json.dumps(meta)), lat)
    assert back.parents == t.parents and back.children == t.children
    for k, n in t.nodes.items():
        m = back.nodes[k]
        assert (m.parents, m.weights, m.seed, m.mutation, m.label, m.brood) == \
            (n.parents, n.weights, n.seed, n.mutation, n.label, n.brood)
        np.testing.assert_array_equal(m.latent, n.latent)
    bad = [({"nodes": "x"}, lat), (meta, lat[:2]), ({**meta, "parents": [99]}, lat),
           ({"nodes": [dict(meta["nodes"][0], seed=-1)] + meta["nodes"][1:]}, lat),
           ({"nodes": meta["nodes"][3:] + meta["nodes"][:3]}, lat),  # children before their parents
           ({"nodes": meta["nodes"][:3] + [dict(meta["nodes"][3], weights=[0.5, 0.5, 0.5])]}, lat[:4]),
           ({"nodes": [5] + meta["nodes"][1:]}, lat), ({"nodes": [{}] + meta["nodes"][1:]}, lat),  # checked first
           ({"nodes": [dict(meta["nodes"][0], mutation=10 ** 400)] + meta["nodes"][1:]}, lat),  # no float holds it
           ({"nodes": meta["nodes"][:3] + [dict(meta["nodes"][3], weights=[10 ** 400, 0, 0])]}, lat[:4])]
    for m, a in bad:
        with pytest.raises(ValueError) as e:
            FamilyTree.from_dict(m, a)
        assert "\n" not in str(e.value)


def test_a_latent_of_another_shape_is_refused():
    t, _ = _tree()
    with pytest.raises(ValueError, match="shape"):
        t.add_root(np.zeros(5, np.float32))
    assert t.add_root(t.nodes[0].latent) == 0  # the same latent again is the same node


def test_a_session_keeps_the_tree_and_leaves_a_damaged_one_out_with_a_note(tmp_path):
    from latent_explorer.app.session_io import plan_restore
    from latent_explorer.core.session import Session

    t, _ = _tree()
    t.breed(3, 0.4, seed=4)
    meta, lat = t.to_dict()
    back = Session.load(Session(family=meta, family_latents=lat).save(tmp_path / "s"))
    tree = FamilyTree.from_dict(back.family, back.family_latents)
    assert tree.lineage(5) == t.lineage(5)
    broken = dict(meta, nodes=[dict(meta["nodes"][0], parents=[7], weights=[1.0])] + meta["nodes"][1:])
    p = Session(family=broken, family_latents=lat, bookmarks=[]).save(tmp_path / "bad")
    s = Session.load(p)  # the rest of the session still opens
    assert s.family == {} and s.family_latents is None
    plan = plan_restore(s, lat.shape[1:], None, None)
    assert plan.family is None and any("family tree was damaged" in n for n in plan.notes)


def test_ids_are_never_reused_after_an_undo_and_the_tree_has_a_size_limit(monkeypatch):
    import latent_explorer.core.latent.breeding as breeding

    t, _ = _tree()
    first = t.breed(3, 0.4, seed=4)
    t.undo()
    again = t.breed(3, 0.1, seed=9)
    assert not set(first) & set(again)  # a picture cached for an undone child never shows for a new one
    assert t.add_root(np.full_like(t.nodes[0].latent, 7.0), "x" * 500) not in first + again
    assert all(len(n.label) <= breeding.MAX_LABEL for n in t.nodes.values())
    monkeypatch.setattr(breeding, "MAX_NODES", len(t) + 2)
    with pytest.raises(ValueError, match="full"):
        t.breed(3, 0.1, seed=1)


def test_a_root_latent_survives_the_recipe_json_to_the_bit():
    rng = np.random.default_rng(3)
    z = (rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500)).astype(np.float32)
    z[:3] = [np.float32(1e-45), -0.0, np.finfo(np.float32).max]
    t = FamilyTree()
    nid = t.add_root(z)
    back = replay(json.loads(json.dumps(t.lineage(nid))))
    assert back.tobytes() == z.tobytes()


def test_the_family_tree_file_round_trips_bit_for_bit_and_bad_files_are_refused_in_one_line():
    rng = np.random.default_rng(2)
    t = FamilyTree()
    roots = [t.add_root(rng.standard_normal((2, 3, 3)).astype(np.float32) * 3, f"r{i}") for i in range(3)]
    t.set_parents(roots)
    gen1 = t.breed(4, 0.7, seed=10)
    t.set_parents(gen1[1:3])
    t.breed(3, 0.1, seed=20)
    text = family_json(t, {gen1[0]: {"file": "child-g1-1.png"}}, model="m")
    back, rec = read_family(text)
    assert rec["model"] == "m" and rec["nodes"][3]["file"] == "child-g1-1.png"
    assert back.parents == t.parents and back.children == t.children
    assert describe(back, t.children[0]).startswith("g2·1 = ") and "·g1·2 + " in describe(back, t.children[0])
    for k, n in t.nodes.items():
        assert back.nodes[k].latent.tobytes() == n.latent.tobytes() and back.lineage(k) == t.lineage(k)
    d = json.loads(text)
    bad = ["{", "[]", json.dumps({**d, "format": "x"}), json.dumps({**d, "version": 9}),
           json.dumps({**d, "shape": [0]}), json.dumps({**d, "shape": "2,3,3"}), json.dumps({**d, "nodes": []}),
           json.dumps({**d, "roots": {}}), json.dumps({**d, "roots": {**d["roots"], "0": ["1"] * 18}}),
           json.dumps({**d, "roots": {**d["roots"], "1": [1e400] * 18}}),
           json.dumps({**d, "nodes": d["nodes"][3:]})]
    for b in bad:
        with pytest.raises(ValueError) as e:
            read_family(b)
        assert "\n" not in str(e.value)
