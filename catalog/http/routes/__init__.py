"""One router per resource of the catalog (``APIRouter``); the app mounts them all."""
