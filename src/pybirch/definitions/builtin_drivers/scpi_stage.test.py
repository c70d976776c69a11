def test(instrument):
    assert instrument.connect(), "the stage did not answer *IDN?"
    instrument.settings = {"velocity": 2.5}
    instrument.initialize()
    assert instrument.instrument.query("VEL?") == "2.50"
    instrument.position = 12.5
    assert instrument.position == 12.5
    instrument.position = 0.0
    assert instrument.position == 0.0
    instrument.shutdown()
