import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_platform_is_still_the_standard_library_module():
    # given the source root named platform/ on sys.path
    import platform

    # when the standard library's module is used
    system = platform.system()

    # then it is the real one, not our folder
    assert isinstance(system, str) and system
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert Path(platform.__file__).parent != ROOT / "platform"


def test_the_inference_package_never_imports_django():
    # given a fresh interpreter state for the package
    for name in [m for m in sys.modules if m == "inference" or m.startswith("inference.")]:
        del sys.modules[name]
    before = {m for m in sys.modules if m.startswith("django")}

    # when the inference package is imported
    importlib.import_module("inference")

    # then it brought no Django module with it
    assert {m for m in sys.modules if m.startswith("django")} == before
