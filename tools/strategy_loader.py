"""``--strategy package.module:evaluate``: the user's strategy function, found by importlib.

A spec that cannot give a callable is a ``StrategySpecError`` whose text says what is wrong
(the spec's shape, the module missing or failing to import, the attribute missing or not
callable), for the CLI to print in one line instead of a traceback. The directory the
command runs in is searchable last, so ``my_strategy.py`` beside the config file loads
without installing it and without shadowing an installed module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import TextIO

from actors.strategy import Evaluate
from actors.synthetic_arbitrage import SyntheticArbitrage

DEFAULT_NAME = "synthetic_arbitrage"
"""The example's strategy name, which every run without ``--strategy`` keeps its positions
under (so a data dir from before ``--strategy`` existed goes on as it was)."""

_SPEC = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attribute>[A-Za-z_]\w*)$")


class StrategySpecError(ValueError):
    """A ``--strategy`` spec that does not name a callable."""


def load_strategy(spec: str) -> Evaluate:
    """The callable ``spec`` (``package.module:attribute``) names."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise StrategySpecError(
            f"{spec!r} is not package.module:function (e.g. my_strategies.momentum:evaluate)"
        )
    module_name, attribute = match["module"], match["attribute"]
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name
        if missing is not None and (module_name + ".").startswith(missing + "."):
            raise StrategySpecError(
                f"no module {missing!r} (is it installed, or in the current directory?)"
            ) from None
        raise StrategySpecError(_import_failure(module_name, error)) from None
    except Exception as error:
        raise StrategySpecError(_import_failure(module_name, error)) from None
    if not hasattr(module, attribute):
        raise StrategySpecError(f"module {module_name!r} has no attribute {attribute!r}")
    evaluate = getattr(module, attribute)
    if isinstance(evaluate, type) or not callable(evaluate):
        what = "a class" if isinstance(evaluate, type) else f"a {type(evaluate).__name__}"
        raise StrategySpecError(
            f"{spec} is {what}, not a function "
            "evaluate(market_snapshot, position_snapshot) -> list[TradeSignal]"
        )
    return evaluate  # type: ignore[no-any-return]


def default_name(spec: str) -> str:
    """The strategy name positions get when ``--strategy-name`` is not given: the module's
    last part (``my_strategies.momentum:evaluate`` is ``momentum``)."""
    return spec.strip().partition(":")[0].rpartition(".")[2]


def _import_failure(module_name: str, error: BaseException) -> str:
    where = ""
    if isinstance(error, SyntaxError) and error.lineno is not None:
        where = f" (line {error.lineno})"
    return f"importing {module_name!r} failed: {type(error).__name__}: {error}{where}"


def add_flags(run: argparse.ArgumentParser) -> None:
    """``run``'s strategy options (``[strategy]`` path and name in a config file)."""
    run.add_argument(
        "--strategy",
        help="package.module:function evaluate(market, position) -> list[TradeSignal] "
        "(docs/STRATEGIES.md); default: the synthetic-arbitrage example",
    )
    run.add_argument(
        "--strategy-name",
        help="the name positions are kept under; default: the strategy module's last part",
    )


def from_args(args: argparse.Namespace, out: TextIO) -> tuple[Evaluate, str] | None:
    """The function and name the flags choose (the example's, without ``--strategy``);
    None, and why on ``out``, if the spec names no callable."""
    if args.strategy is None:
        return SyntheticArbitrage(), args.strategy_name or DEFAULT_NAME
    try:
        evaluate = load_strategy(args.strategy)
    except StrategySpecError as error:
        out.write(f"tradeactors: bad --strategy: {error}\n")
        return None
    return evaluate, args.strategy_name or default_name(args.strategy)
