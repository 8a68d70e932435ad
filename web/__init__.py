"""The Flask front: JSON API and web pages."""
