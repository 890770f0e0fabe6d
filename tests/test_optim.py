"Tests for cifar_tutorial.optim: sgd_step against torch.optim.SGD."
import copy

import pytest
import torch
import torch.nn as nn

from cifar_tutorial.lenet import LeNet
from cifar_tutorial.optim import sgd_step


def make_pair(seed=0):
    torch.manual_seed(seed)
    net = LeNet()
    return net, copy.deepcopy(net)


def compute_grads(model, seed):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(4, 1, 32, 32, generator=g), torch.randn(4, 10, generator=g)
    model.zero_grad()
    nn.MSELoss()(model(x), y).backward()


def assert_same(a, b, exact):
    for p, q in zip(a.parameters(), b.parameters()):
        if exact:
            assert torch.equal(p, q)
        else:
            assert torch.allclose(p, q, rtol=1e-5, atol=1e-7)


def run_both(hp, steps, exact):
    ours, ref = make_pair()
    opt = torch.optim.SGD(ref.parameters(), **hp)
    state = None
    for step in range(steps):
        compute_grads(ours, step)   # a different batch each step
        compute_grads(ref, step)
        state = sgd_step(ours.parameters(), state=state, **hp)
        opt.step()
        assert_same(ours, ref, exact)
    return ours, ref, state, opt


def test_plain_sgd_is_exact():
    ours, ref, state, _ = run_both(dict(lr=0.01), steps=3, exact=True)
    assert state == {}


def test_momentum_weight_decay_10_steps():
    ours, ref, state, opt = run_both(dict(lr=0.01, momentum=0.9, weight_decay=5e-4), steps=10, exact=False)
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert torch.allclose(state[p], opt.state[q]["momentum_buffer"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("hp", [
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.01, momentum=0.5, dampening=0.1),
    dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3),
])
def test_other_settings_match(hp):
    run_both(hp, steps=5, exact=False)


def test_momentum_changes_the_result():
    # guard against a sgd_step that ignores momentum: after 2 steps it must differ from plain SGD
    plain, mom = make_pair()
    state = None
    for step in range(2):
        compute_grads(plain, step); compute_grads(mom, step)
        sgd_step(plain.parameters(), lr=0.01)
        state = sgd_step(mom.parameters(), lr=0.01, momentum=0.9, state=state)
    assert not torch.equal(plain.fc3.weight, mom.fc3.weight)


def test_first_momentum_buffer_is_grad():
    net, _ = make_pair()
    compute_grads(net, 0)
    grads = [p.grad.clone() for p in net.parameters()]
    state = sgd_step(net.parameters(), lr=0.1, momentum=0.9)
    for p, g in zip(net.parameters(), grads):
        assert torch.equal(state[p], g)


def test_frozen_parameters_are_skipped():
    net, _ = make_pair()
    net.conv1.requires_grad_(False)
    before = net.conv1.weight.clone()
    compute_grads(net, 0)
    sgd_step(net.parameters(), lr=0.1)
    assert torch.equal(net.conv1.weight, before)


def test_rejects_missing_grads_without_changing_anything():
    net, _ = make_pair()
    compute_grads(net, 0)
    net.fc3.bias.grad = None
    before = [p.clone() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"no gradient.*loss\.backward\(\)"):
        sgd_step(net.parameters(), lr=0.1)
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))


def test_rejects_fresh_network():
    with pytest.raises(ValueError, match=r"parameter 0 .* has no gradient"):
        sgd_step(LeNet().parameters(), lr=0.01)


def test_rejects_negative_lr():
    net, _ = make_pair()
    compute_grads(net, 0)
    with pytest.raises(ValueError, match=r"lr must be >= 0, got -0.1"):
        sgd_step(net.parameters(), lr=-0.1)


@pytest.mark.parametrize("kw, msg", [
    (dict(momentum=-0.5), "momentum must be >= 0"),
    (dict(weight_decay=-1.0), "weight_decay must be >= 0"),
    (dict(nesterov=True), "nesterov=True needs momentum > 0"),
    (dict(momentum=0.9, nesterov=True, dampening=0.1), "dampening = 0"),
])
def test_rejects_bad_hyperparameters(kw, msg):
    net, _ = make_pair()
    compute_grads(net, 0)
    with pytest.raises(ValueError, match=msg):
        sgd_step(net.parameters(), lr=0.01, **kw)


def test_rejects_non_number_lr_and_empty_params():
    with pytest.raises(TypeError, match="lr must be a number"):
        sgd_step([torch.ones(1, requires_grad=True)], lr="0.1")
    with pytest.raises(ValueError, match="no parameters"):
        sgd_step([], lr=0.1)
