import numpy as np
import pytest

from engine.core.params import Float, ParamError
from engine.core.progress import Cancelled, CancelToken
from engine.ops import Op, OpError, OpResult, all_ops, get_op, op_names, register, run_op


@register
class _Brighten(Op):
    name = "_test_brighten"
    title = "Brighten (test)"
    params = (Float("amount", 0.5, minimum=0.0, maximum=1.0),)

    def run(self, image, mask, params, progress, cancel, device):
        return OpResult(image=np.clip(image + params["amount"], 0, 1).astype(np.float32))


@register
class _Vandal(Op):
    name = "_test_vandal"
    title = "Writes into its input (test)"

    def run(self, image, mask, params, progress, cancel, device):
        image[0, 0] = 1.0
        return OpResult(image=image)


@register
class _Stops(Op):
    name = "_test_stops"
    title = "Cancels (test)"

    def run(self, image, mask, params, progress, cancel, device):
        cancel.cancel()
        cancel.raise_if_cancelled()
        return OpResult(image=image)


@pytest.fixture
def image():
    return np.random.default_rng(0).random((16, 12, 3), dtype=np.float32) * 0.4


def test_result_is_confined_to_the_mask(image):
    mask = np.zeros((16, 12), bool)
    mask[4:8, 2:9] = True
    result = run_op("_test_brighten", image, mask, {"amount": 0.25})
    assert np.array_equal(result.image[~mask], image[~mask])
    assert np.allclose(result.image[mask], image[mask] + 0.25)
    assert result.info["seconds"] >= 0


def test_inputs_are_never_modified(image):
    before = image.copy()
    with pytest.raises(ValueError, match="read-only"):
        run_op("_test_vandal", image)
    assert np.array_equal(image, before)


def test_bad_requests_are_explained(image):
    with pytest.raises(OpError, match="unknown op 'nope'"):
        run_op("nope", image)
    with pytest.raises(ParamError, match="outside"):
        run_op("_test_brighten", image, params={"amount": 3})
    with pytest.raises(OpError, match="mask is 5×5 but the image is 12×16"):
        run_op("_test_brighten", image, np.ones((5, 5), bool))
    with pytest.raises(OpError, match="the mask is empty"):
        run_op("_test_brighten", image, np.zeros((16, 12), bool))
    with pytest.raises(TypeError, match="float32"):
        run_op("_test_brighten", (image * 255).astype(np.uint8))


def test_cancel_propagates(image):
    with pytest.raises(Cancelled):
        run_op("_test_stops", image, cancel=CancelToken())


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        @register
        class _Again(Op):
            name = "_test_brighten"
            title = "again"

            def run(self, image, mask, params, progress, cancel, device):
                return OpResult(image=image)


def test_registry_lists_and_describes_ops():
    assert "_test_brighten" in op_names()
    described = get_op("_test_brighten").describe()
    assert described["params"][0]["name"] == "amount"
    assert described["mask"] == "blend"


def test_builtin_only_leaves_out_ops_registered_elsewhere():
    names = {op.name for op in all_ops(builtin_only=True)}
    assert "median" in names and "_test_brighten" not in names
    assert "_test_brighten" in {op.name for op in all_ops()}
