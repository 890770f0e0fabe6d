"The lesson-04 `Net`: its shape, its parameter count, and a clear error for every wrong input."
import pytest
import torch

from cifar_tutorial.lenet import count_parameters, weights_nbytes
from cifar_tutorial.models import Net


def test_output_shape_and_parameter_count():
    torch.manual_seed(0)
    net = Net()
    assert net(torch.randn(4, 3, 32, 32)).shape == (4, 10)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert count_parameters(net) == 62_006                 # the figure the course notes check the file size against
    assert weights_nbytes(net) == 62_006 * 4               # float32
    assert [n for n, _ in net.named_parameters()] == [     # the tutorial's names, so its state_dicts load
        'conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias',
        'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']


def test_num_classes():
    assert Net(num_classes=3)(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_loads_a_state_dict_of_the_tutorial_layout():
    src = Net()
    dst = Net()
    dst.load_state_dict(src.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(src(x), dst(x))


@pytest.mark.parametrize('shape, hint', [
    ((4, 32, 32, 3), 'permute(0, 3, 1, 2)'),      # channels last, as NumPy / PIL
    ((3, 32, 32), 'unsqueeze(0)'),                # one image without the batch dimension
    ((4, 1, 32, 32), 'LeNet'),                    # grey images
    ((4, 3, 28, 28), '(N, 3, 32, 32)'),           # wrong size
    ((4, 3 * 32 * 32), '(N, 3, 32, 32)'),         # flattened
])
def test_wrong_shape_gives_a_clear_value_error(shape, hint):
    with pytest.raises(ValueError) as e:
        Net()(torch.randn(*shape))
    assert 'Net expects input of shape (N, 3, 32, 32)' in str(e.value) and hint in str(e.value)
    assert str(tuple(shape)) in str(e.value)


def test_not_a_tensor():
    import numpy as np
    with pytest.raises(TypeError, match='torch.Tensor'):
        Net()(np.zeros((4, 3, 32, 32), np.float32))


def test_weight_sharing_parameters_do_not_depend_on_the_image_size():
    # Lesson 04's file-size box: a conv filter (3 x 5 x 5 weights + 1 bias) is shared by every position,
    # so conv1 holds 456 numbers whatever the image size -- not input size x output channels.
    conv1 = Net().conv1
    assert count_parameters(conv1) == 6 * (3 * 5 * 5 + 1) == 456
    for size in (32, 64, 100):
        assert conv1(torch.zeros(1, 3, size, size)).shape == (1, 6, size - 4, size - 4)
        assert count_parameters(conv1) == 456
    learners_rule = 32 * 32 * 3 * 6 + 14 * 14 * 6 * 16 + 400 * 120 + 120 * 84 + 84 * 10
    assert learners_rule == 96_168 != count_parameters(Net())


def test_saved_state_dict_is_the_float32_numbers_plus_a_few_kb(tmp_path):
    # The lesson says: 62,006 float32 numbers = 248,024 bytes, plus a few KB of names and zip headers,
    # and torch.load(..., weights_only=True) gives back a network with the same outputs.
    torch.manual_seed(0)
    net = Net()
    path = tmp_path / 'cifar_net.pth'
    torch.save(net.state_dict(), path)
    assert 0 < path.stat().st_size - 62_006 * 4 < 10_000
    net2 = Net()
    net2.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(3, 3, 32, 32)
    assert torch.equal(net(x), net2(x))
