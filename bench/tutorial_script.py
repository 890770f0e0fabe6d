#!/usr/bin/env python
"""The official tutorial's CIFAR-10 training script, as a learner runs it (written in our own words).

torchvision's CIFAR10 with ToTensor + Normalize(0.5, 0.5), a DataLoader with batch size 4, shuffle
and num_workers=2, the tutorial's Net, CrossEntropyLoss, SGD(lr=0.001, momentum=0.9), 2 epochs, a
loss line every 2000 mini-batches, then the accuracy on the test set. Nothing is tuned for speed:
this is the baseline that bench/train_bench.py times against `cifar-tutorial train --loader fast`.

    python bench/tutorial_script.py --root data                      # official files
    python bench/tutorial_script.py --root /tmp/cifar --no-verify    # a local copy with other checksums (read safely)
    python bench/tutorial_script.py --dataset synthetic --n-train 400 --n-test 100 --epochs 1   # a smoke run

With --no-verify the files are not the official ones, so nothing vouches for them: they are read with the
package's `SafeCIFAR10` (no code from a pickle can run) instead of torchvision's plain `pickle.load`. It holds the
same arrays and returns the same PIL images to the same transform, so the timed path is the tutorial's.

The last line printed is `RESULT {json}` with the accuracy and the times, for the benchmark to read.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms


class Net(nn.Module):
    "The tutorial's network: two convolutions with max-pooling, then three fully connected layers."
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def load(args, transform):
    if args.dataset == 'synthetic':   # the package's offline stand-in, for smoke tests without CIFAR-10
        from cifar_tutorial.data import get_dataset
        return get_dataset('synthetic', transform=transform, n_train=args.n_train, n_test=args.n_test)
    if args.no_verify:   # files with other checksums: read them safely (torchvision would unpickle them as they are)
        from cifar_tutorial.data import SafeCIFAR10
        trainset = SafeCIFAR10(args.root, train=True, transform=transform, verify=False)
        testset = SafeCIFAR10(args.root, train=False, transform=transform, verify=False)
    else:                # the official files: torchvision checks their checksums before it unpickles them
        trainset = torchvision.datasets.CIFAR10(root=args.root, train=True, download=False, transform=transform)
        testset = torchvision.datasets.CIFAR10(root=args.root, train=False, download=False, transform=transform)
    for ds, n in ((trainset, args.n_train), (testset, args.n_test)):
        if n: ds.data, ds.targets = ds.data[:n], ds.targets[:n]
    return trainset, testset


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='cifar10', choices=['cifar10', 'synthetic'])
    p.add_argument('--root', default='data')
    p.add_argument('--no-verify', action='store_true')
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--seed', type=int, default=0, help='the tutorial sets none; we do, so runs can be compared')
    p.add_argument('--n-train', type=int, default=None)
    p.add_argument('--n-test', type=int, default=None)
    args = p.parse_args()
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)

    # 1. load and normalise
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    try: trainset, testset = load(args, transform)
    except Exception as e:   # the package's DataError, or torchvision's error for files that fail its checks
        if type(e).__module__.startswith('cifar_tutorial'): sys.exit(f"tutorial_script.py: error: {e}")
        raise
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=4, shuffle=True, num_workers=2)
    testloader = torch.utils.data.DataLoader(testset, batch_size=4, shuffle=False, num_workers=2)

    # 2. the network, the loss and the optimiser
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    # 3. train
    t1 = time.perf_counter()
    for epoch in range(args.epochs):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 2000 == 1999:
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 2000:.3f}', flush=True)
                running_loss = 0.0
    print('Finished Training')
    t2 = time.perf_counter()

    # 4. test on the whole test set
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in testloader:
            _, predicted = torch.max(net(images), 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = 100 * correct / total
    print(f'Accuracy of the network on the {total} test images: {accuracy:.1f} %')
    print('RESULT ' + json.dumps(dict(test_accuracy=accuracy, train_time_s=round(t2 - t1, 2),
                                      total_time_s=round(time.perf_counter() - t0, 2), threads=torch.get_num_threads())))


if __name__ == '__main__':   # DataLoader workers re-import this file on Windows/macOS: keep the work under the guard
    main()
