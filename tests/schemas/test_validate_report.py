"""``validate.json``'s schema: what ``kinefake audit`` accepts from a corpus it did not write."""

from __future__ import annotations

import copy

from kinefake.schemas.validate_report import misfit

FITS = {
    "passed": True,
    "judge": "dlib",
    "fakes_checked": 2,
    "problems": [],
    "outside_mask": {"median_grey": 1.5, "failed": []},
    "regenerated": {"samples": [{"regenerated": True}], "failed": []},
    "headpose": {"cosine_distance": {"auroc": None}},
    "by_operator": {"freeze": {"fakes": 2, "recovered_median": 0.8, "ks_region_mean": None}},
    "fakes": [
        {
            "key": "a_0000_fake0",
            "recovered": None,
            "flow_recovered": 0.7,
            "outside_grey": 1,
            "outside_worst_block": 3.5,
            "coupling_drop": 0.1,
            "unread": "<anything>",
        }
    ],
}


def test_a_report_of_the_right_shape_fits():
    assert misfit(FITS) is None


def test_each_misfit_is_named_by_its_path():
    cases = [
        (("fakes_checked",), "<script>", "validate.json.fakes_checked: expected int, got str"),
        (("passed",), 1, "validate.json.passed: expected bool, got int"),
        (("fakes_checked",), True, "validate.json.fakes_checked: expected int, got bool"),
        (("outside_mask", "median_grey"), "1.5", "validate.json.outside_mask.median_grey: expected one of number"),
        (("headpose", "cosine_distance", "auroc"), False, "validate.json.headpose.cosine_distance.auroc"),
        (("by_operator", "freeze", "fakes"), "<b>", "validate.json.by_operator.freeze.fakes"),
        (("fakes",), {"a": 1}, "validate.json.fakes: expected a list, got dict"),
        (("regenerated", "failed"), [1], "validate.json.regenerated.failed[0]: expected str, got int"),
        (("outside_mask",), [], "validate.json.outside_mask: expected an object, got list"),
    ]
    for path, value, message in cases:
        report = copy.deepcopy(FITS)
        holder = report
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value
        assert (misfit(report) or "").startswith(message), (path, misfit(report))
    report = copy.deepcopy(FITS)
    del report["fakes"][0]["outside_grey"]
    assert misfit(report) == "validate.json.fakes[0]: no 'outside_grey'"
    assert misfit([]) == "validate.json: expected an object, got list"
