"Tests for cifar_tutorial.lenet: LeNet, conv_output_size, count_parameters, weights_nbytes."
import io
import itertools

import pytest
import torch
import torch.nn as nn

from cifar_tutorial.lenet import LeNet, conv_output_size, count_parameters, weights_nbytes


@pytest.fixture
def net():
    torch.manual_seed(0)
    return LeNet()


def test_forward_shapes(net):
    assert net(torch.randn(1, 1, 32, 32)).shape == (1, 10)
    assert net(torch.randn(5, 1, 32, 32)).shape == (5, 10)


def test_layers(net):
    assert (net.conv1.in_channels, net.conv1.out_channels, net.conv1.kernel_size) == (1, 6, (5, 5))
    assert (net.conv2.in_channels, net.conv2.out_channels) == (6, 16)
    assert [(l.in_features, l.out_features) for l in (net.fc1, net.fc2, net.fc3)] == [(400, 120), (120, 84), (84, 10)]


def test_backward_fills_grads(net):
    assert net.conv1.bias.grad is None
    nn.MSELoss()(net(torch.randn(2, 1, 32, 32)), torch.randn(2, 10)).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())


def test_rejects_three_channels(net):
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\).*got \(4, 3, 32, 32\).*1-channel"):
        net(torch.randn(4, 3, 32, 32))


def test_rejects_28x28(net):
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\).*got \(2, 1, 28, 28\).*[Pp]ad"):
        net(torch.randn(2, 1, 28, 28))


def test_rejects_missing_batch_dim(net):
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\).*unsqueeze\(0\)"):
        net(torch.randn(1, 32, 32))


def test_rejects_non_tensor(net):
    with pytest.raises(TypeError, match=r"torch.Tensor of shape \(N, 1, 32, 32\)"):
        net([[0.0] * 32] * 32)


def test_count_parameters(net):
    assert count_parameters(net) == 61_706
    assert count_parameters(net.conv1) == 6 * 1 * 5 * 5 + 6
    assert count_parameters(nn.Linear(400, 120)) == 48_120


def test_count_parameters_trainable_only(net):
    net.conv1.requires_grad_(False)
    assert count_parameters(net) == 61_706 - 156
    assert count_parameters(net, trainable_only=False) == 61_706


def test_count_parameters_cifar_sized_net():
    # the 3-channel net of lesson 04 differs only in conv1: 62,006 parameters
    cifar = nn.Sequential(nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5), nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10))
    assert count_parameters(cifar) == 62_006
    assert weights_nbytes(cifar) == 4 * 62_006


def test_weights_nbytes(net):
    assert weights_nbytes(net) == 4 * 61_706
    assert weights_nbytes(net.double()) == 8 * 61_706


def test_weights_nbytes_buffers_and_sharing():
    bn = nn.BatchNorm1d(10)   # 20 parameters, buffers: 10 + 10 float32 + 1 int64
    assert weights_nbytes(bn, include_buffers=False) == 20 * 4
    assert weights_nbytes(bn) == 20 * 4 + 20 * 4 + 8
    lin = nn.Linear(3, 3)
    shared = nn.Sequential(lin, lin)   # the same layer twice is stored once
    assert weights_nbytes(shared) == weights_nbytes(lin) == (9 + 3) * 4


def test_weights_nbytes_explains_file_size(net):
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    assert weights_nbytes(net) < buf.getbuffer().nbytes < 1.05 * weights_nbytes(net)


@pytest.mark.parametrize("helper", [count_parameters, weights_nbytes])
def test_helpers_reject_non_modules(helper):
    with pytest.raises(TypeError, match="nn.Module"):
        helper(torch.ones(3))


def test_conv_output_size_matches_conv2d_and_pooling():
    for size, k, p, s in itertools.product([5, 28, 31, 32], [1, 2, 3, 5], [0, 1, 2], [1, 2, 3]):
        if size + 2 * p < k:
            continue
        y = nn.Conv2d(1, 1, kernel_size=k, padding=p, stride=s)(torch.zeros(1, 1, size, size + 1))
        assert y.shape[-2:] == (conv_output_size(size, k, p, s), conv_output_size(size + 1, k, p, s))
    assert nn.MaxPool2d(2)(torch.zeros(1, 1, 28, 28)).shape[-1] == conv_output_size(28, 2, stride=2) == 14


def test_conv_output_size_lenet_chain():
    sizes = [32]
    for k, s in [(5, 1), (2, 2), (5, 1), (2, 2)]:
        sizes.append(conv_output_size(sizes[-1], k, stride=s))
    assert sizes == [32, 28, 14, 10, 5]


@pytest.mark.parametrize("args, match", [
    ((3, 5), "does not fit"),
    ((32, 0), "kernel_size >= 1"),
    ((32, 3, 0, 0), "stride >= 1"),
    ((32, 3, -1), "padding >= 0"),
])
def test_conv_output_size_rejects_impossible_settings(args, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(*args)


def test_conv_parameter_formula():
    for c_in, c_out, k in itertools.product([1, 3], [2, 6], [1, 3, 5]):
        assert count_parameters(nn.Conv2d(c_in, c_out, k)) == c_in * k * k * c_out + c_out
