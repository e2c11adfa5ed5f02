"""`PATCH /jobs/{id}/shifts/{index}`: review one shift of a done job (accept, reject, trim)."""

from __future__ import annotations

from litestar import Request, patch

from shiftclipper_contracts.jobs import ShiftEdit
from shiftclipper_contracts.results import ShiftResult

from .auth import Principal
from .review import edit_shift


@patch("/jobs/{job_id:str}/shifts/{index:int}", status_code=202)
async def patch_shift(request: Request, principal: Principal, job_id: str, index: int, data: ShiftEdit) -> ShiftResult:
    """Accept, reject or trim a shift (null fields stay as they are). 202: the shift as it will be in
    results.json; a trimmed shift's clip is re-cut in the background (`clip.url` is null until then,
    the status shows `review_pending`). 404 unknown job or shift, 400 invalid times (with the field),
    409 when the job is not `done` or a concurrent edit conflicts."""
    return await edit_shift(request.app.state.jobs, principal, job_id, index, data)


REVIEW_ROUTES = [patch_shift]
