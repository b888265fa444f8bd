"""Commands other than convert and build, each over the pipeline's parts:
`inspect` (`inspection`), `verify` (`verify_bundle`) and `doctor`."""
