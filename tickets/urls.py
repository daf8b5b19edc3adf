from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.TicketListView.as_view(), name="list"),
    path("new/", views.TicketCreateView.as_view(), name="create"),
    path("<int:pk>/", views.TicketDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.TicketEditView.as_view(), name="edit"),
    path("<int:pk>/comments/", views.CommentCreateView.as_view(), name="comment"),
    path("<int:pk>/attachments/", views.AttachmentUploadView.as_view(), name="upload"),
    path("<int:pk>/<slug:action>/", views.TicketActionView.as_view(), name="action"),
    path(
        "attachments/<int:pk>/download/",
        views.AttachmentDownloadView.as_view(),
        name="attachment-download",
    ),
    path(
        "attachments/<int:pk>/delete/",
        views.AttachmentDeleteView.as_view(),
        name="attachment-delete",
    ),
]
