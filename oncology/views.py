from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    return render(request, "oncology/patient_list.html", {"patients": []})
