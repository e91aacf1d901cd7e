"""The grading channel without a kernel: the agent and the verdict side talk through files in one process.

What is proven here: plain data arrives by value and is refused when it is not plain data; the learner's
functions and objects arrive as references whose every use runs on the learner's side; a learner exception
travels as its class and line only; an object whose ``__eq__`` is always true proves nothing.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlcasebook import datasets
from mlcasebook.grading import agent, channel, verdict


class _InProcess:
    """The verdict's link, with the agent answering in this process (what the kernel does in a real run)."""

    def __init__(self, tmp_path, names):
        self.dir = tmp_path
        agent.CHANNEL = str(tmp_path)
        agent._user_ns = names

    def ask(self, op, target, args):
        reply = channel.loads(agent._respond(channel.dumps((op, target, args))), self)
        if reply[0] == "raise":
            if reply[3]:
                raise NotImplementedError()
            raise channel.LearnerError(reply[1], *reply[2])
        return reply[1]

    def get(self, *names):
        return self.ask("get", None, (list(names),))


SECRET = "hidden-seed-8128"


def _learner_namespace():
    data = datasets.make_churn(400, churn_rate=0.05, random_state=3)
    numeric = data.frame.select_dtypes("number")

    def double(x):
        return 2 * x

    def leaky(x):
        raise ValueError(f"{SECRET} {x}")

    def stub(x):
        raise NotImplementedError()

    class Always:
        def __eq__(self, other):
            return True

    class Weird(float):
        def __eq__(self, other):
            return True

    model = make_pipeline(FunctionTransformer(double), StandardScaler(), LogisticRegression()).fit(numeric, data.target)
    return {"frame": data.frame, "data": data, "double": double, "leaky": leaky, "stub": stub, "always": Always(),
            "weird": Weird(1.0), "model": model, "numeric": numeric, "arr": np.arange(5), "choice": "user"}


@pytest.fixture()
def link(tmp_path):
    return _InProcess(tmp_path, _learner_namespace())


def test_plain_data_arrives_by_value(link):
    got = link.get("frame", "arr", "choice", "data")
    assert isinstance(got["frame"], pd.DataFrame) and got["frame"].shape == (400, link.get("frame")["frame"].shape[1])
    assert isinstance(got["arr"], np.ndarray) and got["choice"] == "user"
    assert type(got["data"].truth).__module__.startswith("mlcasebook.datasets")  # the generator's truth, by value


def test_fitted_sklearn_objects_arrive_real_and_learner_functions_stay_remote(link):
    got = link.get("model", "numeric")
    model = got["model"]
    assert type(model) is Pipeline  # a real object of this process, run by its own scikit-learn
    func = model.steps[0][1].func
    assert type(func) is channel.Remote  # the learner's function inside it stays in the learner's kernel
    assert model.predict_proba(got["numeric"]).shape == (400, 2)
    assert type(clone(model)) is Pipeline


def test_calls_run_remotely_and_return_data(link):
    double = link.get("double")["double"]
    assert type(double) is channel.Remote and double(21) == 42
    assert repr(double) == "<your function object>"


def test_a_long_string_column_reaches_the_learner_unchanged(link):
    """The hidden frame a check passes to a learner's function travels as codes (reducer_override): the learner's
    side gets the same values, missing ones included, in the same dtype."""
    frame = pd.DataFrame({"arm": pd.Series(["treatment", None, "control", "ctrl "] * 5_000, dtype="str"),
                          "n": np.arange(20_000)})
    identity = link.get("double")["double"]  # a learner function: its argument crosses to the learner's side
    payload = channel.dumps(("call", identity, ((frame,), {})))
    assert b"_strings" in payload  # sent as codes, not string by string
    op, _target, ((arrived,), _kwargs) = agent._Unpickler(io.BytesIO(payload)).load()
    assert op == "call" and arrived.equals(frame) and arrived.dtypes.equals(frame.dtypes)
    assert type(arrived["arm"].array) is type(frame["arm"].array) and arrived["arm"].isna().sum() == 5_000


def test_a_missing_attribute_of_a_learner_object_is_an_attribute_error(link):
    double = link.get("double")["double"]
    assert getattr(double, "no_such_attribute", "default") == "default"
    assert not hasattr(double, "n_samples_seen_") and hasattr(double, "__name__")
    with pytest.raises(channel.LearnerError):  # still a learner error, for checks that catch those
        _ = double.no_such_attribute


def test_learner_exception_is_its_class_and_never_its_text(link):
    leaky = link.get("leaky")["leaky"]
    with pytest.raises(channel.LearnerError) as info:
        leaky("the hidden input")
    assert info.value.ename == "ValueError"
    assert SECRET not in str(info.value) and "the hidden input" not in str(info.value)


def test_release_stub_is_not_implemented(link):
    with pytest.raises(NotImplementedError):
        link.get("stub")["stub"](1)


def test_objects_whose_eq_is_always_true_prove_nothing(link):
    got = link.get("always", "weird")
    assert got["always"] != "user" and not (got["always"] == 3)
    assert type(got["weird"]) is channel.Remote and not (got["weird"] == 1.0)
    assert float(got["weird"]) == 1.0  # its value can still be read as data


@pytest.mark.parametrize("payload", [
    b"cos\nsystem\n(S'echo pwned'\ntR.",                     # os.system
    b"cbuiltins\neval\n(S'1+1'\ntR.",                        # eval
    b"cbuiltins\ngetattr\n.",                                # getattr
    pickle.dumps(np.memmap),                                 # reads files
    pickle.dumps(pd.eval),                                   # evaluates strings
    b"csubprocess\nPopen\n(S'true'\ntR.",
    b"cfunctools\npartial\n.",
])
def test_restricted_unpickler_refuses_what_is_not_plain_data(payload):
    with pytest.raises(channel.UnsafeData):
        channel.loads(payload)


def test_a_reference_is_never_called_while_reading(link):
    remote = link.get("double")["double"]
    evil = channel._Pickler  # a pickle that uses a reference as a constructor
    import io

    class _Evil:
        def __reduce__(self):
            return (remote, (1,))

    buf = io.BytesIO()
    evil(buf, protocol=5).dump(_Evil())
    with pytest.raises(channel.UnsafeData):
        channel.loads(buf.getvalue(), link)


def test_free_names_of_a_hidden_test():
    source = ("cases = [(1, 2)]\nfor a, b in cases:\n    assert double(a) == b\n"
              "sims = [make(x) for x in range(3)]\nchecks.ab.f(design, [s.frame for s in sims]).require()\n")
    assert verdict.free_names(source) == ["checks", "design", "double", "make"]


def test_a_memory_bomb_from_the_learner_stays_inside_the_verdict_limit(tmp_path):
    """Bytes that ask for 3 GB (over its 1 GB cap here, far under the machine's memory) make the verdict process
    raise MemoryError (its address space is capped),
    not exhaust the machine; the verdict process keeps answering."""
    import time

    from mlcasebook.grading.execute import Verdict

    class _Bomb:
        def __reduce__(self):
            return (np._core.multiarray._reconstruct, (np.ndarray, (3_000_000_000,), b"b"))

    bomb = pickle.dumps(_Bomb(), protocol=5)
    verdict = Verdict("import numpy as np", tmp_path, memory_mb=1024)
    try:
        verdict.wait_ready(60)
        source = f"from mlcasebook.grading import channel\nchannel.loads({bomb!r}).sum()\n"
        result = verdict.run_test("bomb_test", source, time.monotonic() + 60, answer=lambda *_: ("closed", "none"))
        errors = [o for o in result["outputs"] if o["output_type"] == "error"]
        assert errors and errors[0]["ename"] == "MemoryError", result
        again = verdict.run_test("ok_test", "assert np.arange(3).sum() == 3\n", time.monotonic() + 60,
                                 answer=lambda *_: ("closed", "none"))
        assert not [o for o in again["outputs"] if o["output_type"] == "error"], again
    finally:
        verdict.stop()


def test_a_verdict_process_that_dies_at_start_aborts_grading_with_a_reason(tmp_path):
    from mlcasebook.grading.execute import GradingAborted, Verdict

    verdict = Verdict("import sys\nprint('ImportError: the checks could not load', file=sys.stderr)\n"
                      "sys.stderr.flush()\nimport os\nos._exit(3)", tmp_path)
    try:
        with pytest.raises(GradingAborted, match="verdict process stopped.*the checks could not load"):
            verdict.wait_ready(60)
    finally:
        verdict.stop()
