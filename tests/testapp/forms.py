from django import forms

ALLOWED = ("image/", "application/pdf")


class DocumentForm(forms.Form):
    title = forms.CharField(max_length=100, required=False)
    document = forms.FileField()

    def clean_document(self):
        document = self.cleaned_data["document"]
        if not (document.content_type or "").startswith(ALLOWED):
            raise forms.ValidationError("Upload an image or a PDF.")
        return document
