"""The Streamlit designer: canvas adapter, palette, property forms, panels and tabs."""
