"""The release: its steps, journal, repository operations, upload and credentials.

``run`` is the table of contents (``release``) and its CLI; ``prepare`` what runs before the
first step; ``steps`` the step bodies; ``context``, ``inputs``, ``planning`` and ``dev`` the
options, input checks, plan and dev releases; ``report`` the closing report; ``commands`` the
other invoke tasks.  Git: ``gitcore`` (running git, refs), ``repo`` (preflight),
``versioncommit``, ``tagpush`` and ``worktree``.
"""
