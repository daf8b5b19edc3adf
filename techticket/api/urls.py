"""/api/v1/: the REST API for integrators (SPEC §5)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.api.views import (
    LogoutView,
    RegisterView,
    TokenObtainView,
    TokenRotateView,
    UserViewSet,
)
from tickets.api.views import AttachmentViewSet, TicketViewSet

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# No `.json` twins of every route: the views take no `format` argument, and JSON is all there is.
router.include_format_suffixes = False
router.register("users", UserViewSet, basename="user")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("attachments", AttachmentViewSet, basename="attachment")

urlpatterns = [
    path("auth/register/", RegisterView.as_view(), name="register"),
    path("auth/token/", TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh/", TokenRotateView.as_view(), name="token-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from a URL of its own: no inline code
    # for the CSP to block, and the site's Cross-Origin-Opener-Policy stays.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]
