"The package's layers point one way: a module imports only modules of lower layers, and nothing imports the CLI."
import ast
from pathlib import Path

import cifar_tutorial

PKG = Path(cifar_tutorial.__file__).parent
# lower number = lower layer. Lessons' modules and `data` at the bottom (above `core` and `cifar10`), the engine above them,
# the fast recipe's network beside the engine, recipes and DDP above, the command line on top.
LAYERS = {'__init__': 0, 'core': 0, '_nbdev_procs': 0,
          'cifar10': 0.5,                                     # CIFAR-10's files, NumPy only: below data
          'autograd': 1, 'lenet': 1, 'optim': 1, 'models': 1, 'device': 1, 'data': 1,
          'train': 2, 'fastnet': 2,
          'recipes': 3, 'ddp': 3,
          'cli': 4}


def _is_main_guard(node) -> bool:
    "True for `if __name__ == '__main__' ...:` (the `python -m` entry point of a module)."
    test = node.test.values[0] if isinstance(node.test, ast.BoolOp) else node.test
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == '__name__'
            and any(isinstance(c, ast.Constant) and c.value == '__main__' for c in test.comparators))


def package_imports(source: str) -> set:
    "Names of the cifar_tutorial modules that `source` imports, outside `if __name__ == '__main__'` blocks."
    found = set()
    def visit(node):
        if isinstance(node, ast.If) and _is_main_guard(node): return
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level:                                      # relative: from .x import y / from . import x
                found.update([mod.split('.')[0]] if mod else [a.name for a in node.names])
            elif mod == 'cifar_tutorial': found.update(a.name for a in node.names)
            elif mod.startswith('cifar_tutorial.'): found.add(mod.split('.')[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split('.')[1] for a in node.names if a.name.startswith('cifar_tutorial.'))
        for child in ast.iter_child_nodes(node): visit(child)
    visit(ast.parse(source))
    return found


def test_every_module_has_a_layer():
    mods = {p.stem for p in PKG.glob('*.py')} - {'_modidx'}
    assert mods == set(LAYERS), f"give these modules a layer in LAYERS: {sorted(mods ^ set(LAYERS))}"


def test_imports_point_down_and_nothing_imports_the_cli():
    upward = []
    for p in PKG.glob('*.py'):
        if p.stem == '_modidx': continue
        for dep in package_imports(p.read_text()) - {'__version__'}:   # `from . import __version__`: the package itself
            if dep == 'cli' or LAYERS[dep] >= LAYERS[p.stem]:
                upward.append(f"{p.stem} (layer {LAYERS[p.stem]}) imports {dep} (layer {LAYERS[dep]})")
    assert not upward, '\n'.join(upward)


def test_the_check_sees_an_upward_import():
    # The walker must catch the imports it is meant to catch, in every spelling, and skip the entry-point guard.
    src = ("from cifar_tutorial.cli import main\nfrom .recipes import x\nimport cifar_tutorial.train\n"
           "def f():\n    from cifar_tutorial import ddp\n"
           "if __name__ == '__main__' and '__file__' in globals():\n    from cifar_tutorial.cli import fast_seeds_main\n")
    assert package_imports(src) == {'cli', 'recipes', 'train', 'ddp'}
