"""nbgrader configuration: instructors run plain nbgrader from the repository root.

solutions/<module>/<case>.ipynb is the source (with solutions and hidden tests);
notebooks/<module>/<case>.ipynb is the generated learner release.
"""

c = get_config()  # noqa: F821 - provided by nbgrader/traitlets

c.CourseDirectory.course_id = "mlcasebook"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Only notebooks are assignment files; data comes from the installed package.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Per-cell limit: the slowest solution cell takes a few seconds on 2 cores.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
# A learner who deletes a test cell gets it back, graded, in its original place.
c.OverwriteCells.add_missing_cells = True

# Feedback must never show hidden tests or mark schemes.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
