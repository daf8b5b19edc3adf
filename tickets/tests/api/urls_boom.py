"""A URLconf for tests only: the site's URLs plus an API view that crashes, to prove that a
500 under /api/ keeps the JSON error shape, carries the request id and leaks nothing."""

from django.urls import path
from rest_framework.views import APIView

from techticket.urls import urlpatterns as site_urlpatterns

SECRET = "boom: secret internals of the API"


class BoomView(APIView):
    def get(self, request):
        raise RuntimeError(SECRET)


urlpatterns = [
    path("api/v1/boom/", BoomView.as_view()),
    *site_urlpatterns,
]

handler400 = "techticket.views.error_400"
handler403 = "techticket.views.error_403"
handler404 = "techticket.views.error_404"
handler500 = "techticket.views.error_500"
