"""Parity: does every artifact compute what the source computes, in the
runtimes people run it in?

- `inputs`: the arrays every runtime is fed, computed once per run;
- `engine`: runs artifacts on their runtimes' lanes (runners from
  `converter.backends`) and judges them; `Verification` is the entry point;
- `metrics` and `gates`: the comparator, which sees arrays only;
- `report` and `html`: parity.json, parity.md, parity.html.
"""
