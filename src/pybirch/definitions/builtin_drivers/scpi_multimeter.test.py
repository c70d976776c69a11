def test(instrument):
    assert instrument.connect(), "the multimeter did not answer *IDN?"
    instrument.settings = {"nplc": 5.0}
    instrument.initialize()
    assert instrument.instrument.query(":SENS:VOLT:DC:NPLC?") == "5.00"
    data = instrument.perform_measurement()
    assert data.shape == (1, 1)
    assert abs(data[0][0] - 0.123456) < 1e-9
    instrument.shutdown()
