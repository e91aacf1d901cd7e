"""mlcasebook: hands-on machine-learning interview case studies, graded with nbgrader."""

__version__ = "0.1.0"
