"""ARM templates: the expression language, its functions and the evaluation scope."""
