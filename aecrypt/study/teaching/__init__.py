"""The teacher's kit: the notebooks read as lectures (syllabus), the "Try it" exercises'
expected outcomes and runtimes read from the committed runs, and the solutions run that
trains the model variants the exercises ask about."""
