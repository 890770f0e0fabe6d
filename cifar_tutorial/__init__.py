"""cifar_tutorial: a beginner PyTorch course in notebooks, and the library the lessons build.

Where things are (lesson -> module):

- 01 Autograd            cifar_tutorial.autograd   check_grad, print_graph, draw_graph
- 02 nn.Module           cifar_tutorial.lenet      LeNet, count_parameters, conv_output_size, weights_nbytes
- 03 The manual update   cifar_tutorial.optim      sgd_step
- 04 CIFAR-10            cifar_tutorial.models     Net, the tutorial's CNN
- 05 GPU                 cifar_tutorial.device     best_device, to_device, Timer, train_speed
- CIFAR-10's files       cifar_tutorial.cifar10    safe_unpickle, read_ahead, DataError (NumPy only, no PyTorch)
- data                   cifar_tutorial.data       get_dataset (CIFAR-10 or the offline set), FastLoader, classic_loader,
                                                   flip_images, translate_images, show_batch, DataError
- training engine        cifar_tutorial.train      fit, evaluate, Evaluation, plots, save_checkpoint, load_checkpoint,
                                                   prepare_out_dir, save_run
- 06 the fast recipe     cifar_tutorial.fastnet    FastNet, Lookahead, tta_logits, DeviceData
                         cifar_tutorial.recipes    FastConfig, fast_config, FastRecipe, train_fast, run_seeds
- several processes      cifar_tutorial.ddp        train_ddp (for torchrun)
- command line           cifar_tutorial.cli        `cifar-tutorial data | train`
- errors and files       cifar_tutorial.core       CifarTutorialError (base of the package's own errors), atomic_write

Layers point one way: core, cifar10, then the lessons' modules and data, then train and fastnet, then recipes and ddp,
then cli. help(cifar_tutorial.train.fit) and friends document every parameter.
"""
__version__ = "0.1.0"
