from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.forms import OrganisationSignInForm


class SignInView(auth_views.LoginView):
    form_class = OrganisationSignInForm
    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    return render(request, "accounts/home.html")
