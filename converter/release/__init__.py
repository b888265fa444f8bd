"""Releases: recipes (`recipes`), the build of a recipe's bundle with its
release steps (`build`) and the npm package for UpscalerJS (`package_npm`).
The pipeline imports nothing from here; a build hands its steps to the
pipeline through `pipeline.plan.PostSteps`."""
