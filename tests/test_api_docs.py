"Every parameter of every public function and class constructor has an nbdev docments comment."
import importlib
import inspect

import pytest
from fastcore.docments import docments

MODULES = ['core', 'cifar10', 'data', 'train', 'fastnet', 'recipes', 'ddp', 'cli']
SKIP_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def public_callables():
    "(module.name, object) for each function or class in the `__all__` of the modules above."
    for m in MODULES:
        mod = importlib.import_module(f'cifar_tutorial.{m}')
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj): yield f'{m}.{name}', obj


def undocumented(obj) -> list:
    "The parameters of `obj` (a function, or a class's constructor) that docments gives no comment for."
    sig = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    docs = docments(obj)
    return [p for p, par in sig.parameters.items()
            if p not in ('self', 'cls') and par.kind not in SKIP_KINDS and not (docs.get(p) or '').strip()]


CALLABLES = list(public_callables())


def test_found_the_public_api():
    names = [n for n, _ in CALLABLES]
    assert len(names) > 50, names        # a broken import or empty __all__ would make the test below vacuous
    for n in ['train.fit', 'train.History', 'recipes.FastConfig', 'fastnet.FastNet', 'cli.run']: assert n in names


def test_undocumented_is_detected():
    def f(a: int,  # documented
          b, *args, **kw): pass
    class C:
        def __init__(self, x): pass
    assert undocumented(f) == ['b']
    assert undocumented(C) == ['x']


@pytest.mark.parametrize('name,obj', CALLABLES, ids=[n for n, _ in CALLABLES])
def test_every_parameter_has_a_comment(name, obj):
    missing = undocumented(obj)
    assert not missing, (f"{name}: no docments comment for {missing}; add `# what it is` after each parameter "
                         "in the source notebook nbs/api/*.ipynb, then nbdev-export")
