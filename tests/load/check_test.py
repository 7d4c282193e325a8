#!/usr/bin/python3
"""tests/load/check_test.py: the checker's rules on made-up records, so a checker that stopped
seeing a loss, an overlap or a bad status fails here rather than passing every load run."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402


def ev(seq, action, lock_id, state="load/s1", status=200, detail=""):
    return {"seq": seq, "action": action, "lock_id": lock_id, "state": state,
            "status": status, "detail": detail}


class FakeStated:
    """Answers GETs from a dict path -> (status, body)."""

    def __init__(self, answers):
        self.answers = answers

    def get(self, path):
        return self.answers.get(path, (404, b"{}"))


class TrailTest(unittest.TestCase):
    def test_lock_unlock_lock_is_clean(self):
        events = [ev(1, "lock", "A"), ev(2, "write", "A"), ev(3, "unlock", "A"),
                  ev(4, "lock", "B", status=423), ev(5, "lock", "B"), ev(6, "unlock", "B")]
        self.assertEqual(check.trail_overlaps(events), [])

    def test_second_holder_is_an_overlap(self):
        events = [ev(1, "lock", "A"), ev(2, "lock", "B")]
        self.assertEqual(len(check.trail_overlaps(events)), 1)

    def test_order_is_by_seq_not_by_list(self):
        events = [ev(3, "lock", "B"), ev(1, "lock", "A"), ev(2, "unlock", "A")]
        self.assertEqual(check.trail_overlaps(events), [])

    def test_expired_and_reentered_leases(self):
        events = [ev(1, "lock", "A"), ev(2, "lock", "A", detail="already held by this ID"),
                  ev(3, "lock-expired", "A"), ev(4, "lock", "B")]
        self.assertEqual(check.trail_overlaps(events), [])

    def test_write_by_non_holder(self):
        events = [ev(1, "lock", "A"), ev(2, "write", "B")]
        self.assertEqual(len(check.trail_overlaps(events)), 1)

    def test_unlock_of_another_id_frees_nothing(self):
        events = [ev(1, "lock", "A"), ev(2, "unlock", "X"), ev(3, "lock", "B")]
        self.assertEqual(len(check.trail_overlaps(events)), 1)


class ClientHoldsTest(unittest.TestCase):
    def test_overlapping_holds(self):
        holds = [{"unit": "u1", "state": "s", "id": "A", "t_held": 1.0, "t_release": 3.0},
                 {"unit": "u2", "state": "s", "id": "B", "t_held": 2.0, "t_release": 4.0}]
        self.assertEqual(len(check.client_overlaps(holds)), 1)

    def test_consecutive_holds(self):
        holds = [{"unit": "u1", "state": "s", "id": "A", "t_held": 1.0, "t_release": 2.0},
                 {"unit": "u2", "state": "s", "id": "B", "t_held": 2.5, "t_release": 4.0}]
        self.assertEqual(check.client_overlaps(holds), [])


class StatusTest(unittest.TestCase):
    def setUp(self):
        fd, self.faults_path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as f:
            f.write("kill 100.0 105.0\n")
        self.faults = check.FaultWindows(self.faults_path, 10)

    def tearDown(self):
        os.unlink(self.faults_path)

    def attempt(self, t, kind="POST", status=200, retry_after=None, error=None):
        a = {"unit": "u", "state": "s", "kind": kind, "inst": 0, "t0": t, "t1": t + 0.01,
             "status": status, "retry_after": retry_after}
        if error:
            a["error"] = error
        return a

    def bad(self, *attempts, writes=()):
        return check.unexpected_statuses(list(attempts), list(writes), self.faults)

    def test_allowed(self):
        self.assertEqual(self.bad(self.attempt(1), self.attempt(2, "LOCK", 423),
                                  self.attempt(3, "GET", 404),
                                  self.attempt(101, status=503, retry_after="2"),
                                  self.attempt(112, status=None, error="reset")), [])

    def test_refused(self):
        writes = [{"state": "s", "acked": True, "t_done": 5.0}]
        self.assertEqual(len(self.bad(self.attempt(1, status=500), self.attempt(2, status=409),
                                      self.attempt(3, "POST", 423),
                                      self.attempt(6, "GET", 404),
                                      self.attempt(50, status=503, retry_after="2"),
                                      self.attempt(101, status=503),
                                      self.attempt(130, status=None, error="reset"),
                                      writes=writes)), 7)


class StateTest(unittest.TestCase):
    def write(self, serial, sha, acked, t):
        return {"unit": "u", "state": "s", "serial": serial, "sha256": sha, "size": 10,
                "acked": acked, "t_attempt": t, "t_done": t + 0.1}

    def stated(self, current, versions):
        import hashlib
        import json
        self.sha = {b: hashlib.sha256(b).hexdigest() for b in (b"one", b"two", b"three")}
        listing = [{"id": "v%d" % s, "sha256": self.sha[b], "serial": s, "size": 10}
                   for b, s in versions]
        answers = {"/v1/states/s": (200, current),
                   "/v1/snapshots/s": (200, json.dumps(listing).encode())}
        for b, s in versions:
            answers["/v1/snapshots/s?id=v%d" % s] = (200, b)
        return FakeStated(answers)

    def test_current_is_last_acked(self):
        st = self.stated(b"two", [(b"one", 1), (b"two", 2)])
        w = [self.write(1, self.sha[b"one"], True, 1), self.write(2, self.sha[b"two"], True, 2)]
        self.assertEqual(check.check_state(st, "s", w)[1], 0)

    def test_current_is_a_later_unacked_attempt(self):
        st = self.stated(b"three", [(b"one", 1), (b"three", 2)])
        w = [self.write(1, self.sha[b"one"], True, 1), self.write(2, self.sha[b"three"], False, 2)]
        self.assertEqual(check.check_state(st, "s", w)[1], 0)

    def test_current_went_back(self):
        st = self.stated(b"one", [(b"one", 1), (b"two", 2)])
        w = [self.write(1, self.sha[b"one"], True, 1), self.write(2, self.sha[b"two"], True, 2)]
        self.assertEqual(check.check_state(st, "s", w)[1], 1)

    def test_version_reads_back_other_bytes(self):
        st = self.stated(b"two", [(b"one", 1), (b"two", 2)])
        st.answers["/v1/snapshots/s?id=v2"] = (200, b"tampered")
        w = [self.write(1, self.sha[b"one"], True, 1), self.write(2, self.sha[b"two"], True, 2)]
        self.assertEqual(check.check_state(st, "s", w)[1], 1)

    def test_acked_version_missing(self):
        st = self.stated(b"two", [(b"two", 2)])
        w = [self.write(1, self.sha[b"one"], True, 1), self.write(2, self.sha[b"two"], True, 2)]
        self.assertEqual(check.check_state(st, "s", w)[1], 1)


if __name__ == "__main__":
    unittest.main()
