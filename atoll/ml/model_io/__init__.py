"""Models in and out of jobs: ``model_reader`` loads a model a party saved in an earlier job."""
