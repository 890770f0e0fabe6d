"Tests for cifar_tutorial.autograd: check_grad, print_graph and draw_graph."
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Annotation

from cifar_tutorial.autograd import GradCheck, check_grad, draw_graph, print_graph


def f(x):
    return (x.sin() * x).sum()


def test_check_grad_agrees_with_calculus():
    x = torch.linspace(-2, 2, 7, dtype=torch.float64)
    res = check_grad(f, x)
    assert isinstance(res, GradCheck)
    assert res.ok and res.max_abs_err < 1e-6
    assert torch.allclose(res.analytic, x.sin() + x * x.cos())
    assert torch.allclose(res.numeric, res.analytic, atol=1e-6)


def test_check_grad_does_not_touch_input():
    x = torch.tensor([0.3, 0.4], dtype=torch.float64)
    before = x.clone()
    check_grad(f, x)
    assert torch.equal(x, before) and x.grad is None and not x.requires_grad


def test_check_grad_multidimensional_input():
    x = torch.randn(2, 3, dtype=torch.float64)
    res = check_grad(lambda t: (t @ t.T).trace(), x)
    assert res.ok and res.analytic.shape == (2, 3)
    assert torch.allclose(res.analytic, 2 * x)


class WrongSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t):
        ctx.save_for_backward(t)
        return t ** 2

    @staticmethod
    def backward(ctx, grad_out):
        (t,) = ctx.saved_tensors
        return grad_out * t  # wrong on purpose: misses the factor 2


def test_check_grad_detects_wrong_gradient():
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    res = check_grad(lambda t: WrongSquare.apply(t).sum(), x)
    assert not res.ok
    assert res.max_abs_err == pytest.approx(3.0, rel=1e-6)


def test_check_grad_function_independent_of_x():
    res = check_grad(lambda t: torch.tensor(5.0, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    assert res.ok and torch.equal(res.analytic, torch.zeros(3, dtype=torch.float64))


def test_check_grad_rejects_integer_tensor():
    with pytest.raises(TypeError, match="floating-point.*float64"):
        check_grad(f, torch.tensor([1, 2, 3]))


def test_check_grad_rejects_non_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_grad(f, [1.0, 2.0])


def test_check_grad_rejects_non_scalar_output():
    with pytest.raises(ValueError, match="single number"):
        check_grad(lambda t: t * 2, torch.ones(3, dtype=torch.float64))


def test_check_grad_rejects_bad_eps():
    with pytest.raises(ValueError, match="eps"):
        check_grad(f, torch.ones(3, dtype=torch.float64), eps=0)


def test_check_grad_warns_on_float32():
    with pytest.warns(UserWarning, match="float64"):
        check_grad(f, torch.ones(3), eps=1e-3)


def test_print_graph_tree_and_return_value(capsys):
    w = torch.tensor([2.0, -1.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    loss = ((w * torch.tensor([1.0, 3.0])).sum() + b) ** 2
    text = print_graph(loss, names={"w": w, "b": b})
    assert capsys.readouterr().out.strip() == text
    assert text.splitlines() == [
        "PowBackward0",
        "└─ AddBackward0",
        "   ├─ SumBackward0",
        "   │  └─ MulBackward0",
        "   │     └─ AccumulateGrad  (w, leaf, shape (2,))",
        "   └─ AccumulateGrad  (b, leaf, shape ())",
    ]


def test_print_graph_accepts_grad_fn_and_show_false(capsys):
    x = torch.ones(3, requires_grad=True)
    y = (x * 2).sum()
    text = print_graph(y.grad_fn, show=False)
    assert capsys.readouterr().out == ""
    assert text.splitlines()[0] == "SumBackward0" and "AccumulateGrad  (leaf, shape (3,))" in text


def test_print_graph_shared_node_printed_once():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    u = t.exp()
    text = print_graph((u * u).sum(), show=False)
    assert text.count("ExpBackward0") == 2 and text.count("(shown above)") == 1
    assert text.count("AccumulateGrad") == 1


def test_print_graph_leaf_tensor():
    x = torch.ones(2, requires_grad=True)
    assert print_graph(x, names={"x": x}, show=False) == "leaf tensor (x, leaf, shape (2,))"


def test_print_graph_rejects_tensor_without_graph():
    with pytest.raises(ValueError, match="does not require grad"):
        print_graph(torch.ones(3))
    x = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    with pytest.raises(ValueError, match="no_grad"):
        print_graph(y)


def test_print_graph_rejects_other_types():
    with pytest.raises(TypeError, match="tensor or a grad_fn"):
        print_graph([1, 2, 3])


def _boxes(ax):
    "The words in the boxes of a drawn graph (the arrows are texts without words)."
    return [t.get_text() for t in ax.texts if t.get_text()]


def _arrows(ax):
    return [t for t in ax.texts if isinstance(t, Annotation)]


def test_draw_graph_boxes_arrows_and_none_inputs():
    w = torch.tensor([2.0, -1.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    loss = ((w * torch.tensor([1.0, 3.0])).sum() + b) ** 2
    ax = draw_graph(loss, names={"w": w, "b": b})
    boxes = _boxes(ax)
    assert sorted(boxes) == sorted(["PowBackward0", "AddBackward0", "SumBackward0", "MulBackward0",
                                    "w: leaf (2,)\nAccumulateGrad", "b: leaf ()\nAccumulateGrad",
                                    "None\n(needs no grad)"])
    assert len(_arrows(ax)) == 6          # one per edge of the graph
    xs = {t.get_text(): t.get_position()[0] for t in ax.texts if t.get_text()}
    assert xs["PowBackward0"] > xs["AddBackward0"] > xs["SumBackward0"] > xs["MulBackward0"]   # root on the right
    plt.close("all")


def test_draw_graph_shared_leaf_drawn_once_and_given_ax():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    _, ax = plt.subplots()
    out = draw_graph(((a * b) + a.sin()).mean(), ax=ax)
    assert out is ax
    assert sum("AccumulateGrad" in s for s in _boxes(ax)) == 2     # a used twice, drawn once
    assert len(_arrows(ax)) == 6                                    # a has two arrows out
    plt.close("all")


def test_draw_graph_rejects_what_has_no_graph():
    with pytest.raises(ValueError, match="does not require grad"):
        draw_graph(torch.ones(3))
    with pytest.raises(ValueError, match="leaf"):
        draw_graph(torch.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="tensor or a grad_fn"):
        draw_graph("loss")
